import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { urlWithDatabase } from '../helpers/db.ts';
import { cli, contentFingerprint, q, startShopCluster } from '../helpers/backup.ts';
import { sha256Hex, writeManifest, type Manifest } from '../../src/archive/manifest.ts';
import { microsToIso, timestampMicros } from '../../src/archive/changes.ts';
import type { BackupResult, RestoreResult, StatusResult, VerifyResult } from '../helpers/results.ts';

// Incremental chains need wal_level = logical: a throwaway cluster. This server build only lets trusted
// output plugins decode (output_plugin_libraries); allow wal2json there when the setting exists.
let cluster: ThrowawayCluster;
let dir: string;
let src: string;
const dbUrl = (name: string) => urlWithDatabase(cluster.url, name);

async function serverNow(): Promise<string> {
  const [{ t }] = await q(src, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`);
  await new Promise((r) => setTimeout(r, 30));
  return t;
}

beforeAll(async () => {
  ({ cluster, src } = await startShopCluster('pgoutput, test_decoding, wal2json'));
  await q(src, `CREATE TABLE docs (id int PRIMARY KEY, body text NOT NULL, n int NOT NULL);
    ALTER TABLE docs ALTER body SET STORAGE EXTERNAL;
    INSERT INTO docs SELECT g, (SELECT string_agg(md5(g::text || x::text), '') FROM generate_series(1, 1500) x), 0 FROM generate_series(1, 5) g;
    CREATE TABLE sentinel (id int PRIMARY KEY, msg text);
    CREATE DOMAIN bin AS bytea;
    CREATE TABLE blobs (k bytea PRIMARY KEY, v bytea, d bin);
    INSERT INTO blobs VALUES ('\\x0001', '\\xdeadbeef', '\\x00'), ('\\x0002', NULL, '\\x5c78'), ('\\x0003', '\\x', NULL)`);
  dir = mkdtempSync(join(tmpdir(), 'axisor-bk-inc-'));
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a chain of incrementals restores exactly, to the end and to points in time; refusals and promotion', async () => {
  const full = await cli<BackupResult>(['backup', '--type', 'full'], src, dir);
  expect(full.exitCode).toBe(0);
  expect(full.json.result.slot).toMatch(/^axisor_/);
  const [{ toasted }] = await q(src, `SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE relname = 'docs'`);
  expect(toasted).toBe(true);

  // Changes before the first incremental: inserts, updates that leave a TOASTed column unchanged, deletes, a TRUNCATE.
  await q(src, `INSERT INTO "TradeLog"(user_id, size, note) SELECT 'u1', g, 'new' FROM generate_series(1, 40) g;
    UPDATE docs SET n = n + 1;
    DELETE FROM "TradeLog" WHERE id % 10 = 0;
    TRUNCATE audit;
    UPDATE "User" SET plan = 'PRO' WHERE id = 'u2';
    INSERT INTO sentinel VALUES (1, 'A');
    -- bytea (and a domain over it) as values and as the key: the change files carry no type names, replay reads them from the catalog.
    INSERT INTO blobs VALUES ('\\xff00', '\\x78797a', '\\x01');
    UPDATE blobs SET v = '\\xcafe', d = '\\x02' WHERE k = '\\x0001';
    DELETE FROM blobs WHERE k = '\\x0002'`);
  const fpA = await contentFingerprint(src);
  const tA = await serverNow();
  await q(src, `UPDATE "TradeLog" SET size = size + 0.00000001, metadata = metadata || '{"x": 1}' WHERE id < 100; INSERT INTO sentinel VALUES (2, 'B')`);
  const inc1 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, dir);
  expect(inc1.exitCode).toBe(0);
  expect(inc1.json.result).toMatchObject({ type: 'incremental', parent: full.json.result.id });
  expect(inc1.json.result.changes!.truncates).toBe(1);

  await q(src, `DELETE FROM "TradeLog" WHERE id BETWEEN 200 AND 260; UPDATE docs SET n = n * 10 WHERE id < 3; INSERT INTO sentinel VALUES (3, 'C')`);
  const fpC = await contentFingerprint(src);
  const tC = await serverNow();
  await q(src, `INSERT INTO "User"(id, email) VALUES ('u999', 'late@example.com'); TRUNCATE sentinel; INSERT INTO sentinel VALUES (4, 'D')`);
  const inc2 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, dir);
  expect(inc2.exitCode).toBe(0);
  expect(inc2.json.result.parent).toBe(inc1.json.result.id);
  const fpEnd = await contentFingerprint(src);

  const end = await cli<RestoreResult>(['restore', '--latest', '--target-db', 'r_end'], src, dir);
  expect(end.exitCode).toBe(0);
  expect(end.json.result.chain).toHaveLength(3);
  expect(await contentFingerprint(dbUrl('r_end'))).toEqual(fpEnd);
  const [seqSrc] = await q(src, `SELECT last_value FROM "TradeLog_id_seq"`);
  const [seqDst] = await q(dbUrl('r_end'), `SELECT last_value FROM "TradeLog_id_seq"`);
  expect(Number(seqDst.last_value)).toBeGreaterThanOrEqual(Number(seqSrc.last_value));

  const atA = await cli(['restore', inc2.json.result.id, '--target-db', 'r_a', '--to-time', tA], src, dir);
  expect(atA.exitCode).toBe(0);
  expect(await contentFingerprint(dbUrl('r_a'))).toEqual(fpA);
  const atC = await cli(['restore', inc2.json.result.id, '--target-db', 'r_c', '--to-time', tC], src, dir);
  expect(atC.exitCode).toBe(0);
  expect(await q(dbUrl('r_c'), 'SELECT msg FROM sentinel ORDER BY id')).toEqual([{ msg: 'A' }, { msg: 'B' }, { msg: 'C' }]);
  expect(await contentFingerprint(dbUrl('r_c'))).toEqual(fpC);

  const verify = await cli<VerifyResult>(['backup', 'verify', inc2.json.result.id], src, dir);
  expect(verify.exitCode).toBe(0);
  expect(verify.json.result.drill.ok).toBe(true);

  // A table without a primary key: refused, naming it.
  await q(src, 'CREATE TABLE nopk (x int)');
  const refused = await cli(['backup', '--type', 'incremental'], src, dir);
  expect(refused.exitCode).toBe(69);
  expect(refused.json.error.code).toBe('prerequisite.no_identity');
  expect(refused.json.error.message).toContain('public.nopk');
  await q(src, 'DROP TABLE nopk');

  // A schema change since the last backup: the incremental becomes a new full backup and a new chain.
  await q(src, 'ALTER TABLE docs ADD COLUMN extra text');
  const promoted = await cli<BackupResult>(['backup', '--type', 'incremental'], src, dir);
  expect(promoted.exitCode).toBe(0);
  expect(promoted.json.result.type).toBe('full');
  expect(promoted.json.result.promotedBecause).toMatch(/schema/);
  const status = await cli<StatusResult>(['backup', 'status'], src, dir);
  expect(status.exitCode).toBe(0);
  expect(status.json.result.chain!.root).toBe(promoted.json.result.id);
  expect(status.json.result.slots).toHaveLength(1);
  expect(status.json.result.slots[0].retainedBytes).toEqual(expect.any(Number));
});

test('incrementals of a LATIN1 database replay non-ASCII table, column and key names and values exactly', async () => {
  // pgoutput names relations and columns in the server's encoding, converted for the capturing session: a
  // LATIN1 database's names must come back to the same tables and columns on replay, and the values unchanged.
  await q(cluster.url, `CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  const lat = dbUrl('latin');
  const ldir = mkdtempSync(join(tmpdir(), 'axisor-bk-latin-'));
  try {
    await q(lat, `CREATE TABLE "Café" ("clé" text PRIMARY KEY, "naïve" text, "größe" numeric);
      CREATE TABLE "Señal" (id int PRIMARY KEY, "año" int, "¿qué?" text);
      INSERT INTO "Café" VALUES ('é', 'ÿ', 1.5), ('ß', NULL, 2), ('x', 'à bientôt', 3);
      INSERT INTO "Señal" VALUES (1, 1999, '½ µ')`);
    const full = await cli<BackupResult>(['backup', '--type', 'full'], lat, ldir);
    expect(full.exitCode).toBe(0);
    expect(full.json.result.slot).toMatch(/^axisor_/);
    await q(lat, `INSERT INTO "Café" VALUES ('ñ', 'àéîõü', 4);
      UPDATE "Café" SET "naïve" = 'Ünïcödé' WHERE "clé" = 'é';
      UPDATE "Café" SET "clé" = 'ss' WHERE "clé" = 'ß';
      DELETE FROM "Café" WHERE "clé" = 'x';
      UPDATE "Señal" SET "año" = 2026, "¿qué?" = 'sí' WHERE id = 1;
      INSERT INTO "Señal" VALUES (2, NULL, 'ñandú')`);
    const inc = await cli<BackupResult>(['backup', '--type', 'incremental'], lat, ldir);
    expect(inc.exitCode).toBe(0);
    expect(inc.json.result).toMatchObject({ type: 'incremental', parent: full.json.result.id });
    const want = await contentFingerprint(lat);
    const restored = await cli<RestoreResult>(['restore', '--latest', '--target-db', 'latin_r'], lat, ldir);
    expect(restored.exitCode).toBe(0);
    expect(restored.json.result.chain).toHaveLength(2);
    const [{ enc }] = await q(cluster.url, `SELECT pg_encoding_to_char(encoding) AS enc FROM pg_database WHERE datname = 'latin_r'`);
    expect(enc).toBe('LATIN1');
    expect(await contentFingerprint(dbUrl('latin_r'))).toEqual(want);
    expect(await q(dbUrl('latin_r'), `SELECT "clé", "naïve" FROM "Café" ORDER BY 1`)).toEqual([
      { clé: 'ss', naïve: null }, { clé: 'é', naïve: 'Ünïcödé' }, { clé: 'ñ', naïve: 'àéîõü' },
    ]);
  } finally {
    rmSync(ldir, { recursive: true, force: true });
  }
});

test('a server without wal_level = logical refuses incrementals with the prerequisite code', async () => {
  // A server of its own: the local one may well run with wal_level = logical.
  const replica = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'replica' } });
  try {
    const r = await cli<BackupResult>(['backup', '--type', 'incremental'], replica.url, dir);
    expect(r.exitCode).toBe(69);
    expect(r.json.error.code).toBe('prerequisite.wal_level');
  } finally {
    await replica.stop();
  }
});

test('an incremental written by an older axisor-db (wal2json change lines) still restores', async () => {
  // Such backups exist on disk: rebuild one exactly as the wal2json capture wrote it (format-version 2 lines,
  // include-types 0, no changeFormat in the manifest) on top of a full backup of this version.
  await q(cluster.url, 'CREATE DATABASE legacy');
  const url = dbUrl('legacy');
  const bk = join(dir, 'legacy');
  await q(url, `CREATE TABLE t (id int PRIMARY KEY, n numeric(20,8), b bytea, big text, note text);
    ALTER TABLE t ALTER big SET STORAGE EXTERNAL;
    INSERT INTO t SELECT g, g / 3.0, '\\x0102', repeat(md5(g::text), 300), 'x' FROM generate_series(1, 20) g`);
  const full = await cli<BackupResult>(['backup', '--type', 'full', '--compress', 'none', '--no-chain'], url, bk);
  expect(full.exitCode).toBe(0);
  await q(url, `SELECT pg_create_logical_replication_slot('legacy_w2j', 'wal2json')`);
  // Decoding reads flushed WAL only (the throwaway cluster commits asynchronously).
  await q(url, `SET synchronous_commit = on; INSERT INTO t VALUES (100, 12345678901.12345678, '\\xdeadbeef', 'small', E'tab\\t"q"');
    UPDATE t SET note = 'big untouched', n = 0.00000001 WHERE id = 1;
    UPDATE t SET b = '\\x00' WHERE id = 2;
    DELETE FROM t WHERE id = 3;`);
  const opts = ['format-version', '2', 'include-timestamp', '1', 'include-lsn', '1', 'include-xids', '1', 'include-transaction', '1', 'include-types', '0'];
  const rows = await q<{ data: string }>(url, `SELECT data FROM pg_logical_slot_get_changes('legacy_w2j', NULL, NULL, ${opts.map((o) => `'${o}'`).join(', ')})`);
  await q(url, `SELECT pg_drop_replication_slot('legacy_w2j')`);
  const text = rows.map((r) => `${r.data}\n`).join('');
  expect(text).toContain('"action":"U"');
  const fm: Manifest = JSON.parse(readFileSync(join(bk, full.json.result.id, 'manifest.json'), 'utf8'));
  const id = full.json.result.id.replace('-full-', '-incr-').replace(/T(\d{6})Z/, (_: string, hms: string) => `T${String(Number(hms) + 1).padStart(6, '0')}Z`);
  mkdirSync(join(bk, id), { mode: 0o700 });
  writeFileSync(join(bk, id, 'changes.jsonl'), text);
  const commit = JSON.parse(rows[rows.length - 1]!.data);
  await writeManifest(join(bk, id), {
    ...fm, id, type: 'incremental', parent: fm.id, chainRoot: fm.id, snapshot: null, lsn: { start: '0/0', end: commit.nextlsn },
    consistentAt: microsToIso(timestampMicros(commit.timestamp)), commitTimes: { first: null, last: null },
    files: [{ path: 'changes.jsonl', bytes: Buffer.byteLength(text), sha256: sha256Hex(text) }],
    tables: fm.tables.map((t) => ({ ...t, chunks: [], rows: 20 })), changes: { transactions: 1, inserts: 1, updates: 2, deletes: 1, truncates: 0 },
  });
  const r = await cli<RestoreResult>(['restore', id, '--target-db', 'legacy_r'], url, bk);
  expect(r.exitCode).toBe(0);
  expect(r.json.result.chain).toEqual([fm.id, id]);
  expect(await contentFingerprint(dbUrl('legacy_r'))).toEqual(await contentFingerprint(url));
});
