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
  for (const k of ['checksumsMs', 'schemaMs', 'dataMs', 'indexesMs', 'foreignKeysMs', 'swapMs', 'maintenanceWorkMemMb']) expect(typeof rp[k]).toBe('number');
  const show = await cli<Manifest>(['backup', 'show', b.json.result.id], src.url, dir);
  const single = show.json.result.tables.filter((t) => t.chunks.length === 1 && t.rows > 0);
  expect(single.length).toBeGreaterThan(0);
  expect(rp.frozenChunks).toBe(show.json.result.tables.filter((t) => t.chunks.length === 1).length);
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
