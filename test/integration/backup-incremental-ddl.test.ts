import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { createAxisorSchema, plantDefects, seedSmall } from '../helpers/axisor-data.ts';
import { cli, contentFingerprint, q } from '../helpers/backup.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { ADMIN_URL, urlWithDatabase } from '../helpers/db.ts';
import type { BackupResult, StatusResult } from '../helpers/results.ts';

// DDL between incrementals, axisor-db's own tables, and slots of killed backups (issue 11, items 2-4).
let cluster: ThrowawayCluster;
let dir: string;
const dbUrl = (name: string) => urlWithDatabase(cluster.url, name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serverNow(url: string): Promise<string> {
  const [{ t }] = await q(url, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`);
  await sleep(20);
  return t;
}

const axisorSlots = async () => q<{ slot_name: string; temporary: boolean; database: string }>(cluster.url, `SELECT slot_name, temporary, database FROM pg_replication_slots WHERE slot_name LIKE 'axisor\\_%' ORDER BY 1`);

beforeAll(async () => {
  const [opl] = await q(ADMIN_URL, `SELECT 1 AS x FROM pg_settings WHERE name = 'output_plugin_libraries'`);
  cluster = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'logical', max_replication_slots: 16, ...(opl ? { output_plugin_libraries: 'pgoutput, test_decoding' } : {}) } });
  dir = mkdtempSync(join(tmpdir(), 'axisor-bk-ddl-'));
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('tables created, filled and dropped, renamed, or altered between incrementals: every chain end restores to the source', async () => {
  await q(cluster.url, 'CREATE DATABASE ddl');
  const src = dbUrl('ddl');
  const bk = join(dir, 'ddl');
  await q(src, `CREATE TABLE keep (id int PRIMARY KEY, v text);
    CREATE TABLE other (id int PRIMARY KEY, n numeric);
    INSERT INTO keep SELECT g, 'v' || g FROM generate_series(1, 50) g; INSERT INTO other SELECT g, g FROM generate_series(1, 20) g;
    CREATE TABLE part (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
    CREATE TABLE part_a PARTITION OF part FOR VALUES FROM (0) TO (10); CREATE TABLE part_b PARTITION OF part FOR VALUES FROM (10) TO (20);
    INSERT INTO part SELECT g, g % 20, 'p' FROM generate_series(1, 40) g;`);
  const full = await cli<BackupResult>(['backup', '--type', 'full'], src, bk);
  expect(full.exitCode).toBe(0);

  // 1. Created, filled and dropped between two incrementals: the chain goes on, the table's changes are left out,
  //    a restore to the end equals the source, and a --to-time while it lived is refused before anything.
  await q(src, `UPDATE keep SET v = v || 'a' WHERE id < 10; UPDATE part SET k = k + 10, v = 'moved' WHERE k < 5; DELETE FROM part WHERE id = 40`);
  await q(src, `CREATE TABLE eph (id int PRIMARY KEY, v text); INSERT INTO eph SELECT g, 'e' FROM generate_series(1, 30) g`);
  const during = await serverNow(src);
  await q(src, `UPDATE eph SET v = 'f'; UPDATE keep SET v = 'b' WHERE id = 20; TRUNCATE eph, other; DROP TABLE eph; INSERT INTO other VALUES (1, 1.5)`);
  const inc1 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc1.exitCode).toBe(0);
  expect(inc1.json.result.type).toBe('incremental');
  expect(inc1.json.result.warnings.join(' ')).toContain('public.eph');
  const afterInc1 = await contentFingerprint(src);
  const end1 = await cli(['restore', inc1.json.result.id, '--target-db', 'ddl_r1'], src, bk);
  expect(end1.exitCode).toBe(0);
  expect(await contentFingerprint(dbUrl('ddl_r1'))).toEqual(afterInc1);
  const inGap = await cli(['restore', inc1.json.result.id, '--target-db', 'ddl_gap', '--to-time', during], src, bk);
  expect(inGap.exitCode).toBe(77);
  expect(inGap.json.error.code).toBe('refused.to_time_in_gap');
  expect(inGap.json.error.message).toContain('public.eph');
  expect(inGap.json.error.message).toMatch(/\d{4}-\d\d-\d\dT.* and \d{4}-\d\d-\d\dT/);
  expect(await q(cluster.url, `SELECT datname FROM pg_database WHERE datname LIKE 'ddl\\_gap%'`)).toEqual([]);

  // 2. A table renamed and renamed back (same schema at both ends) with changes in between: a new chain.
  await q(src, `ALTER TABLE keep RENAME TO kept; UPDATE kept SET v = 'renamed' WHERE id = 1; ALTER TABLE kept RENAME TO keep`);
  const inc2 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc2.exitCode).toBe(0);
  expect(inc2.json.result.type).toBe('full');
  expect(inc2.json.result.promotedBecause).toMatch(/renamed/);

  // 3. A column added, used and dropped again: a new chain.
  await q(src, `ALTER TABLE other ADD COLUMN extra text; UPDATE other SET extra = 'x', n = 2; ALTER TABLE other DROP COLUMN extra`);
  const inc3 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc3.exitCode).toBe(0);
  expect(inc3.json.result.type).toBe('full');
  expect(inc3.json.result.promotedBecause).toMatch(/columns of public.other/);

  // 4. Dropped and created again with the same shape, no rows: its DROP is not decoded; the OID tells.
  await q(src, `DROP TABLE other; CREATE TABLE other (id int PRIMARY KEY, n numeric)`);
  const inc4 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc4.exitCode).toBe(0);
  expect(inc4.json.result.type).toBe('full');

  // 5. A plain rename and a new column, then ordinary incrementals again on the new chain.
  await q(src, `ALTER TABLE keep RENAME TO keep2; ALTER TABLE keep2 ADD COLUMN w int DEFAULT 7`);
  const inc5 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc5.json.result.type).toBe('full');
  await q(src, `INSERT INTO keep2 VALUES (1000, 'new', 8); DELETE FROM keep2 WHERE id = 2; INSERT INTO other VALUES (5, 'NaN');
    UPDATE part SET k = 1 WHERE k = 19; TRUNCATE part_a`);
  const inc6 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc6.exitCode).toBe(0);
  expect(inc6.json.result.type).toBe('incremental');
  const latest = await cli(['restore', '--latest', '--target-db', 'ddl_end'], src, bk);
  expect(latest.exitCode).toBe(0);
  expect(await contentFingerprint(dbUrl('ddl_end'))).toEqual(await contentFingerprint(src));
  // The old chain still restores to its own end.
  const old = await cli(['restore', inc1.json.result.id, '--target-db', 'ddl_old'], src, bk);
  expect(old.exitCode).toBe(0);
});

test('fix --apply creates axisor-db tables that incrementals capture; the next incrementals succeed and restore', async () => {
  await q(cluster.url, 'CREATE DATABASE fixdb');
  const src = dbUrl('fixdb');
  const bk = join(dir, 'fixdb');
  await createAxisorSchema(src);
  await seedSmall(src);
  const full = await cli<BackupResult>(['backup', '--type', 'full'], src, bk);
  expect(full.exitCode).toBe(0);
  expect(full.json.result.slot).toBeTruthy();
  await plantDefects(src);
  const fix = await runCli(['fix', '--apply', '--json', '--database-url', src]);
  expect(fix.exitCode).toBe(0);
  const [{ n }] = await q(src, 'SELECT count(*)::int AS n FROM axisor_quarantine.rows');
  expect(n).toBeGreaterThan(0);
  // The quarantine tables are new (a schema change): this one starts a new chain...
  const inc1 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc1.exitCode).toBe(0);
  // ...and after another fix run (more quarantined rows), a plain incremental captures them.
  await q(src, `UPDATE "User" SET plan_type = 'GOLD' WHERE id IN ('u13', 'u14')`);
  const fix2 = await runCli(['fix', '--apply', '--json', '--check', 'invalid_plan_type', '--database-url', src]);
  expect(fix2.exitCode).toBe(0);
  const inc2 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, bk);
  expect(inc2.exitCode).toBe(0);
  expect(inc2.json.result.type).toBe('incremental');
  expect(inc2.json.result.changes!.inserts).toBeGreaterThan(0);
  const r = await cli(['restore', '--latest', '--target-db', 'fixdb_r'], src, bk);
  expect(r.exitCode).toBe(0);
  expect(await contentFingerprint(dbUrl('fixdb_r'))).toEqual(await contentFingerprint(src));
});

test('a user table without a key is refused before the capture, naming the fix', async () => {
  await q(cluster.url, 'CREATE DATABASE nokey');
  const src = dbUrl('nokey');
  const bk = join(dir, 'nokey');
  await q(src, 'CREATE TABLE ok (id int PRIMARY KEY)');
  expect((await cli(['backup', '--type', 'full'], src, bk)).exitCode).toBe(0);
  await q(src, 'CREATE TABLE loose (x int); INSERT INTO loose VALUES (1)');
  const r = await cli(['backup', '--type', 'incremental'], src, bk);
  expect(r.exitCode).toBe(69);
  expect(r.json.error.code).toBe('prerequisite.no_identity');
  expect(r.json.error.message).toContain('public.loose');
  expect(r.json.error.hint).toContain('REPLICA IDENTITY FULL');
  // With no chain yet, the full backup does not create a FOR ALL TABLES publication that would make the
  // application's UPDATEs of such a table fail; it says why it starts no chain.
  await q(cluster.url, 'CREATE DATABASE nokey2');
  const src2 = dbUrl('nokey2');
  await q(src2, 'CREATE TABLE loose (x int)');
  const f2 = await cli<BackupResult>(['backup', '--type', 'full'], src2, join(dir, 'nokey2'));
  expect(f2.exitCode).toBe(0);
  expect(f2.json.result.slot).toBeNull();
  expect(f2.json.result.warnings.join(' ')).toContain('REPLICA IDENTITY FULL');
  expect(await q(src2, `SELECT pubname FROM pg_publication`)).toEqual([]);
  await q(src2, 'UPDATE loose SET x = 2');
});

test('a full backup killed with SIGKILL leaves no slot; status lists every axisor slot with how to drop a stale one', async () => {
  await q(cluster.url, 'CREATE DATABASE killed');
  const src = dbUrl('killed');
  await q(src, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)');
  const bkA = join(dir, 'killed-a');
  const bkB = join(dir, 'killed-b');
  // Hold a lock so the full backup stops right after creating its slot (its LOCK TABLE waits).
  const blocker = new pg.Client({ connectionString: src });
  await blocker.connect();
  await blocker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
  const child = spawnCli(['backup', '--type', 'full', '--json', '--database-url', src, '--backup-dir', bkA]);
  let seen: Array<{ slot_name: string; temporary: boolean }> = [];
  for (let i = 0; i < 600 && seen.length === 0; i++) {
    await sleep(50);
    seen = (await axisorSlots()).filter((s) => s.database === 'killed');
  }
  expect(seen).toHaveLength(1);
  expect(seen[0]!.temporary).toBe(true);
  child.kill('SIGKILL');
  await child;
  await blocker.query('ROLLBACK');
  await blocker.end();
  // The next backup of that database, into another directory.
  const next = await cli<BackupResult>(['backup', '--type', 'full'], src, bkB);
  expect(next.exitCode).toBe(0);
  for (let i = 0; i < 100 && (await axisorSlots()).some((s) => s.slot_name === seen[0]!.slot_name); i++) await sleep(50);
  const slots = (await axisorSlots()).filter((s) => s.database === 'killed');
  expect(slots).toEqual([{ slot_name: next.json.result.slot, temporary: false, database: 'killed' }]);
  expect(existsSync(join(bkA, 'manifest.json'))).toBe(false);

  // Seen from directory A, B's chain slot is another directory's: listed, with the SQL to drop it if stale.
  const status = await cli<StatusResult>(['backup', 'status'], src, bkA);
  expect(status.exitCode).toBe(0);
  const listed = status.json.result.slots.find((s) => s.name === next.json.result.slot);
  expect(listed).toMatchObject({ database: 'killed', role: 'other', inUse: false, retainedBytes: expect.any(Number) });
  expect(listed!.dropSql).toBe(`SELECT pg_drop_replication_slot('${next.json.result.slot}');`);
  const statusB = await cli<StatusResult>(['backup', 'status'], src, bkB);
  expect(statusB.json.result.slots.find((s) => s.name === next.json.result.slot)).toMatchObject({ role: 'chain', inUse: true, dropSql: null });
  const human = await runCli(['backup', 'status', '--database-url', src, '--backup-dir', bkA]);
  expect(human.stdout).toContain('pg_drop_replication_slot');
});

test('a role that may not create the FOR ALL TABLES publication: the full backup names the SQL; once a superuser ran it, chains work', async () => {
  await q(cluster.url, `CREATE ROLE bk LOGIN REPLICATION`);
  await q(cluster.url, `CREATE DATABASE privdb OWNER bk`);
  const asBk = dbUrl('privdb').replace('postgres@', 'bk@');
  const bkDir = join(dir, 'privdb');
  await q(asBk, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, \'a\')');
  const f1 = await cli<BackupResult>(['backup', '--type', 'full'], asBk, bkDir);
  expect(f1.exitCode).toBe(0);
  expect(f1.json.result.slot).toBeNull();
  expect(f1.json.result.warnings.join(' ')).toContain('CREATE PUBLICATION axisor_backup FOR ALL TABLES;');
  const st = await cli<StatusResult>(['backup', 'status'], asBk, bkDir);
  expect(st.json.result.incrementalReady).toBe(false);
  await q(dbUrl('privdb'), 'CREATE PUBLICATION axisor_backup FOR ALL TABLES');
  const f2 = await cli<BackupResult>(['backup', '--type', 'full'], asBk, bkDir);
  expect(f2.exitCode).toBe(0);
  expect(f2.json.result.slot).toMatch(/^axisor_/);
  await q(asBk, `UPDATE t SET v = 'b'; INSERT INTO t VALUES (2, 'NaN')`);
  const inc = await cli<BackupResult>(['backup', '--type', 'incremental'], asBk, bkDir);
  expect(inc.exitCode).toBe(0);
  expect(inc.json.result.changes).toMatchObject({ inserts: 1, updates: 1 });
});
