import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { urlWithDatabase, ADMIN_URL, type TestDatabase } from '../helpers/db.ts';
import { cli, q, createBackupSource, removeBackupTestLeftovers } from '../helpers/backup.ts';
import type { BackupResult, Manifest, RestoreResult } from '../helpers/results.ts';

// The per-phase profile of backup and restore (--json result.phases), and the restore's COPY FREEZE path.
let src: TestDatabase;
let dir: string;
const created: string[] = [];

beforeAll(async () => {
  ({ src, dir } = await createBackupSource('bkprof'));
});

afterAll(() => removeBackupTestLeftovers({ created, src, dirs: [dir] }));

test('backup and restore report where their time went; a table loaded by one stream is restored frozen', async () => {
  const b = await cli<BackupResult>(['backup', '--type', 'full', '--jobs', '2', '--no-chain'], src.url, dir);
  expect(b.exitCode).toBe(0);
  const ph = b.json.result.phases;
  for (const k of ['snapshotMs', 'schemaMs', 'dataMs', 'streamCopyMs', 'streamDigestMs', 'streamFileHashMs', 'streamFsyncMs', 'nodeCpuMs', 'manifestMs', 'publishMs']) {
    expect(typeof ph[k]).toBe('number');
  }
  // One stream per chunk file.
  expect(ph.streams).toBe(b.json.result.files - 1);

  const name = `axisor_test_bkprof_r_${process.pid}`;
  created.push(name);
  const r = await cli<RestoreResult>(['restore', b.json.result.id, '--target-db', name, '--jobs', '2'], src.url, dir);
  expect(r.exitCode).toBe(0);
  const rp = r.json.result.phases;
  for (const k of ['checksumsMs', 'schemaMs', 'dataMs', 'indexesMs', 'foreignKeysMs', 'swapMs', 'maintenanceWorkMemMb', 'nodeCpuMs']) expect(typeof rp[k]).toBe('number');
  const show = await cli<Manifest>(['backup', 'show', b.json.result.id], src.url, dir);
  const single = show.json.result.tables.filter((t) => t.chunks.length === 1 && t.rows > 0);
  expect(single.length).toBeGreaterThan(0);
  expect(rp.frozenChunks).toBe(show.json.result.tables.reduce((n, t) => n + t.chunks.length, 0));
  // COPY ... FREEZE marks the loaded pages all-frozen in the visibility map (a plain COPY leaves them unmarked).
  const url = urlWithDatabase(ADMIN_URL, name);
  await q(url, 'CREATE EXTENSION IF NOT EXISTS pg_visibility');
  for (const t of single) {
    const [{ pages, frozen }] = await q(url, `SELECT (SELECT relpages FROM pg_class WHERE oid = to_regclass($1))::int AS pages,
      (pg_visibility_map_summary(to_regclass($1))).all_frozen::int AS frozen`, [`"${t.schema}"."${t.name}"`]);
    expect({ table: t.name, frozen: frozen > 0 }).toEqual({ table: t.name, frozen: true });
    expect(pages).toBeGreaterThanOrEqual(0);
  }
}, 180_000);

test('a table stored in several streams is restored by one session in one COPY FREEZE transaction: its rows in the source order, every page frozen', async () => {
  // A table of about 3 MB split into 256 kB streams (AXISOR_MIN_CHUNK_BYTES), rows inserted out of key order.
  await q(src.url, `CREATE TABLE split_t (id int PRIMARY KEY, k text NOT NULL, pad text NOT NULL);
    INSERT INTO split_t SELECT i, md5(i::text), repeat('x', 200) FROM generate_series(1, 12000) g(i) ORDER BY md5(i::text);
    CREATE INDEX split_t_k ON split_t (k)`);
  const order = async (url: string) => (await q(url, `SELECT md5(string_agg(id::text, ',' ORDER BY ctid)) AS m, count(*)::int AS n FROM split_t`))[0];
  const before = await order(src.url);
  try {
    const b = await cli<BackupResult>(['backup', '--type', 'full', '--jobs', '2', '--no-chain'], src.url, dir, { env: { AXISOR_MIN_CHUNK_BYTES: String(256 * 1024) } });
    expect(b.exitCode).toBe(0);
    const show = await cli<Manifest>(['backup', 'show', b.json.result.id], src.url, dir);
    const t = show.json.result.tables.find((x) => x.name === 'split_t')!;
    expect(t.chunks.length).toBeGreaterThan(2);
    const chunks = show.json.result.tables.reduce((n, x) => n + x.chunks.length, 0);
    // Encrypted too: each of the table's files is opened (decrypted) in turn and the plaintexts concatenated.
    const key = join(dir, 'split.key');
    writeFileSync(key, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const enc = await cli<BackupResult>(['backup', '--type', 'full', '--jobs', '2', '--no-chain', '--encryption-key-file', key], src.url, dir, { env: { AXISOR_MIN_CHUNK_BYTES: String(256 * 1024) } });
    expect(enc.exitCode).toBe(0);
    const encName = `axisor_test_bkprof_se_${process.pid}`;
    created.push(encName);
    const re = await cli<RestoreResult>(['restore', enc.json.result.id, '--target-db', encName, '--jobs', '2', '--encryption-key-file', key], src.url, dir);
    expect(re.exitCode).toBe(0);
    expect(await order(urlWithDatabase(ADMIN_URL, encName))).toEqual(before);
    for (const mode of ['default', 'parallel'] as const) {
      const name = `axisor_test_bkprof_s${mode[0]}_${process.pid}`;
      created.push(name);
      const r = await cli<RestoreResult>(['restore', b.json.result.id, '--target-db', name, '--jobs', '2'], src.url, dir, { env: mode === 'parallel' ? { AXISOR_RESTORE_SPLIT: 'parallel' } : {} });
      expect(r.exitCode).toBe(0);
      const url = urlWithDatabase(ADMIN_URL, name);
      expect((await order(url)).n).toBe(12000);
      await q(url, 'CREATE EXTENSION IF NOT EXISTS pg_visibility');
      const [{ pages, frozen }] = await q(url, `SELECT relpages::int AS pages, (pg_visibility_map_summary('split_t')).all_frozen::int AS frozen FROM pg_class WHERE oid = 'split_t'::regclass`);
      if (mode === 'default') {
        // Every stream of every table frozen; the split table's heap in the source's order.
        expect(r.json.result.phases.frozenChunks).toBe(chunks);
        expect(await order(url)).toEqual(before);
        expect(frozen).toBe(pages);
      } else {
        // The measurement switch: the split table's streams load in parallel, without FREEZE.
        expect(r.json.result.phases.frozenChunks).toBe(chunks - t.chunks.length);
        expect(frozen).toBe(0);
      }
    }
  } finally {
    await q(src.url, 'DROP TABLE IF EXISTS split_t');
  }
}, 180_000);
