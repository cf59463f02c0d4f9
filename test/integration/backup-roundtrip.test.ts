import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseMessage, pgoutputOptions } from '../../src/archive/pgoutput.ts';
import { PUBLICATION } from '../../src/backup/slots.ts';
import { VALUE_SETTINGS } from '../../src/archive/value-settings.ts';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { ADMIN_URL, urlWithDatabase } from '../helpers/db.ts';
import { cli, q } from '../helpers/backup.ts';
import type { BackupResult, RestoreResult } from '../helpers/results.ts';

// Exact round trip of every value through an incremental chain, whatever the output settings of the source and
// of the restoring side: each setting is set with ALTER DATABASE on the source (the capture sessions inherit it) and,
// with another value, with ALTER ROLE on the role that restores (its pg_restore, COPY and replay sessions inherit
// that). Then full -> changes -> incremental -> changes -> incremental -> restore, compared by ordered content
// hash under pinned settings on both sides.
// Observed with pinValueSettings made a no-op (capture and replay unpinned): the DateStyle, IntervalStyle and
// extra_float_digits cases fail (dates with day and month swapped, intervals with flipped signs, lost float digits);
// with pinning all pass. Each case also shows, on a probe slot, that decoding under the inherited settings gives
// different text than under the pinned ones.
const SETTINGS: Array<[string, string, string]> = [
  ['DateStyle', `'SQL, DMY'`, `'Postgres, MDY'`],
  ['IntervalStyle', 'sql_standard', 'postgres_verbose'],
  ['bytea_output', 'escape', 'escape'],
  ['extra_float_digits', '0', '1'],
  ['TimeZone', `'America/St_Johns'`, `'Asia/Kolkata'`],
];

const PIN = VALUE_SETTINGS.map(([k, v]) => `SET ${k} = '${v}';`).join(' ');

const SCHEMA = `${PIN}
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN label AS text CHECK (VALUE <> '');
CREATE TABLE vals (
  id int PRIMARY KEY, n numeric, f8 float8, f4 real, d date, ts timestamp, tstz timestamptz, iv interval, b bytea,
  af float8[], at text[], ad date[], dom label, e mood, j jsonb, js json, t text, big text);
ALTER TABLE vals ALTER big SET STORAGE EXTERNAL;
-- Keys whose text depends on the settings, and a table identified by its whole row (json has no = operator).
CREATE TABLE dkey (k date PRIMARY KEY, tk timestamptz NOT NULL, v text);
CREATE TABLE bkey (k bytea PRIMARY KEY, v float8);
CREATE TABLE whole (f float8, js json, iv interval, b bytea);
CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text, g text GENERATED ALWAYS AS (upper(v)) STORED);
INSERT INTO ident (v) VALUES ('a');
ALTER TABLE whole REPLICA IDENTITY FULL;
INSERT INTO vals (id, n, f8, t, big) SELECT g, g / 3.0, g / 7.0, 'row ' || g, repeat(md5(g::text), 200) FROM generate_series(1, 5) g;
INSERT INTO dkey VALUES ('2025-02-01', '2025-02-01 10:00:00+00', 'a'), ('2025-03-04', '2025-03-04 23:30:00+00', 'b');
INSERT INTO bkey VALUES ('\\x61623132', 0.1), ('\\x00', 'NaN');
INSERT INTO whole VALUES (0.30000000000000004, '{"a": 1.10}', '-1 day -02:03:04', '\\x5c78'), ('Infinity', '[1, 2]', '1 mon', NULL);`;

// Every edge value, inserted after the full backup (so it travels through the change stream).
const ROW = (id: number) => `(${id}, 'NaN', 'NaN', '-Infinity', '2025-02-01', '2025-02-01 13:14:15.123456', '2025-02-01 13:14:15.123456+00',
  '-1 day -02:03:04', '\\x61623132', '{NaN,Infinity,-Infinity,0.30000000000000004,1e-310}', '{"a\\\\b","c\\"d",NULL,"e,f","x y"}',
  '{2025-02-01,1999-12-31,infinity}', 'dom', 'happy', '{"big": 123456789012345678901234567890.123456789012345678901, "f": 1e-30, "s": "q\\"\\\\"}',
  '{"k": 1.0000000000000000000001, "dup": 1, "dup": 2}', E'line1\\nline2\\\\back\\ttab ''q'' "dq" \\\\x41', repeat('toast', 2000))`;

const CHANGES_1 = `${PIN}
INSERT INTO vals VALUES ${ROW(10)};
INSERT INTO vals (id, n, f8, f4, d, ts, tstz, iv, b, t) VALUES
  (11, 'Infinity', 'Infinity', 'NaN', 'infinity', '-infinity', 'infinity', '1 year 2 mons 3 days 04:05:06.789', '\\x3132', ''),
  (12, '-Infinity', '-Infinity', 'Infinity', '0044-03-15 BC', '2000-02-29 23:59:59.999999', '1970-01-01 00:00:00+00', '-178000000 years', '\\x', NULL),
  (13, 0.1, 0.30000000000000004, 1.17549435e-38, '2025-12-31', '2025-12-31 00:00:00', '2025-06-01 12:00:00+02', '00:00:00.000001', '\\xdeadbeef', 'x');
UPDATE vals SET n = 'NaN', f8 = '-Infinity', f4 = 'NaN' WHERE id = 1;  -- existing rows become non-finite
UPDATE vals SET t = 'changed, big untouched' WHERE id = 2;            -- unchanged TOAST value in an UPDATE
DELETE FROM vals WHERE id = 3;
UPDATE dkey SET v = 'a2' WHERE k = '2025-02-01';
UPDATE bkey SET v = 'Infinity' WHERE k = '\\x61623132';
UPDATE whole SET b = '\\x00ff' WHERE f = 0.30000000000000004;
INSERT INTO ident (v) VALUES ('b'), ('c'); UPDATE ident SET v = 'a2' WHERE id = 1;`;

// synchronous_commit: the probe below decodes at once, and decoding reads flushed WAL only (the throwaway cluster
// commits asynchronously).
const CHANGES_2 = `${PIN} SET synchronous_commit = on;
UPDATE vals SET t = 'again' WHERE id IN (1, 10, 11);                  -- later updates of another column of non-finite rows
UPDATE vals SET d = '2025-01-02', iv = '-3 days +04:05:06' WHERE id = 12;
DELETE FROM vals WHERE id = 13;
DELETE FROM dkey WHERE k = '2025-03-04';
UPDATE dkey SET k = '2025-12-01' WHERE k = '2025-02-01';              -- a key change (old key in the change)
DELETE FROM bkey WHERE k = '\\x00';
DELETE FROM whole WHERE iv = '1 mon';
INSERT INTO vals VALUES ${ROW(20)};
DELETE FROM ident WHERE id = 2; UPDATE ident SET v = 'c2' WHERE id = 3;`;

/** Per table: rows and an ordered content hash, read under pinned output settings. */
async function pinnedHash(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(PIN);
    const { rows: tables } = await c.query<{ t: string }>(`SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    const out: Record<string, string> = {};
    for (const { t } of tables) {
      const { rows } = await c.query(`SELECT count(*)::int AS n, md5(string_agg(x::text, E'\\n' ORDER BY x::text)) AS h FROM ${t} x`);
      out[t] = `${rows[0].n}:${rows[0].h}`;
    }
    return out;
  } finally {
    await c.end();
  }
}

let cluster: ThrowawayCluster;
let dir: string;
const dbUrl = (name: string) => urlWithDatabase(cluster.url, name);

beforeAll(async () => {
  const [opl] = await q(ADMIN_URL, `SELECT 1 AS x FROM pg_settings WHERE name = 'output_plugin_libraries'`);
  cluster = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'logical', max_replication_slots: 16, ...(opl ? { output_plugin_libraries: 'pgoutput, test_decoding' } : {}) } });
  dir = mkdtempSync(join(tmpdir(), 'axisor-bk-rt-'));
  await q(cluster.url, 'CREATE ROLE restorer SUPERUSER LOGIN');
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.each(SETTINGS.map(([k, v, r], i) => [k, v, r, i] as const))('%s = %s on the source, %s for the restoring role: a chain restores every value exactly', async (key, value, restoreValue, i) => {
  const db = `rt_${i}`;
  const src = dbUrl(db);
  const backupDir = join(dir, db);
  await q(cluster.url, `CREATE DATABASE ${db}`);
  await q(src, SCHEMA);
  await q(cluster.url, `ALTER DATABASE ${db} SET ${key} = ${value}; ALTER ROLE restorer SET ${key} = ${restoreValue}`);
  try {
    const full = await cli<BackupResult>(['backup', '--type', 'full'], src, backupDir);
    expect(full.exitCode).toBe(0);
    expect(full.json.result.slot).toMatch(/^axisor_/);
    await q(src, CHANGES_1);
    const inc1 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, backupDir);
    expect(inc1.exitCode).toBe(0);
    expect(inc1.json.result.type).toBe('incremental');

    // A probe slot of our own sees CHANGES_2 too: decoded in a session that inherits the setting, the text differs
    // from the pinned decoding. That is what the capture would have stored without pinning (the matrix can fail).
    // Its own start-up options (not test/setup-pg.ts's ISO pins): RESET ALL must fall back to the database's settings.
    const probe = new pg.Client({ connectionString: src, options: '-c application_name=rt_probe' });
    await probe.connect();
    try {
      await probe.query(`SELECT pg_create_logical_replication_slot('rt_probe_${i}', 'pgoutput', true)`);
      await q(src, CHANGES_2);
      // A temporary slot belongs to its session: peek through the probe connection itself. RESET ALL returns to
      // the database's and role's settings.
      const peek = async (pin: boolean) => {
        await probe.query(pin ? PIN : 'RESET ALL');
        const opts = pgoutputOptions(PUBLICATION).map((o) => `'${o}'`).join(', ');
        const { rows } = await probe.query<{ data: Buffer }>(`SELECT data FROM pg_logical_slot_peek_binary_changes('rt_probe_${i}', NULL, NULL, ${opts})`);
        return rows.map((r) => parseMessage(r.data)).flatMap((m) => (m.tag === 'I' || m.tag === 'U' ? m.tuple.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v))) : []));
      };
      const loose = await peek(false);
      const exact = await peek(true);
      expect(exact.length).toBeGreaterThan(20);
      expect(loose).not.toEqual(exact);
    } finally {
      await probe.end();
    }

    const inc2 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, backupDir);
    expect(inc2.exitCode).toBe(0);
    expect(inc2.json.result.parent).toBe(inc1.json.result.id);
    const asRestorer = src.replace('postgres@', 'restorer@');
    expect(asRestorer).not.toBe(src);
    const restored = await cli<RestoreResult>(['restore', '--latest', '--target-db', `${db}_r`], asRestorer, backupDir);
    expect(restored.exitCode).toBe(0);
    expect(restored.json.result.chain).toHaveLength(3);
    const want = await pinnedHash(src);
    expect(Object.keys(want)).toHaveLength(5);
    expect(await pinnedHash(dbUrl(`${db}_r`))).toEqual(want);
    if (i === 0) {
      // The comparison sees one lost float digit.
      await q(dbUrl(`${db}_r`), `UPDATE whole SET f = 0.3 WHERE f > 0.3 AND f < 0.31`);
      expect(await pinnedHash(dbUrl(`${db}_r`))).not.toEqual(want);
    }
  } finally {
    await q(cluster.url, `ALTER ROLE restorer RESET ${key}`);
  }
});

test('a LATIN1 database: values outside ASCII come back exactly', async () => {
  await q(cluster.url, `CREATE DATABASE lat ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  const src = dbUrl('lat');
  const backupDir = join(dir, 'lat');
  await q(src, `CREATE TABLE cafe (id int PRIMARY KEY, naive text); INSERT INTO cafe VALUES (1, 'déjà')`);
  const full = await cli<BackupResult>(['backup', '--type', 'full'], src, backupDir);
  expect(full.exitCode).toBe(0);
  await q(src, `INSERT INTO cafe VALUES (2, 'über ÿ ±'); UPDATE cafe SET naive = 'façade' WHERE id = 1`);
  const inc = await cli<BackupResult>(['backup', '--type', 'incremental'], src, backupDir);
  expect(inc.exitCode).toBe(0);
  expect(inc.json.result.type).toBe('incremental');
  const r = await cli(['restore', '--latest', '--target-db', 'lat_r'], src, backupDir);
  expect(r.exitCode).toBe(0);
  expect(await q(dbUrl('lat_r'), `SELECT id, naive FROM cafe ORDER BY id`)).toEqual([{ id: 1, naive: 'façade' }, { id: 2, naive: 'über ÿ ±' }]);
  expect(await pinnedHash(dbUrl('lat_r'))).toEqual(await pinnedHash(src));
});

// The COPY sessions run in the database's encoding while the statement travels as UTF-8: names outside ASCII go as
// Unicode escapes (asciiIdentifiers), or a LATIN1 database's "café" is "not found" by the backup, the restore and the drill.
test('a LATIN1 database with names outside ASCII: full backup, restore and the verify drill', async () => {
  await q(cluster.url, `CREATE DATABASE lat_names ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  const src = dbUrl('lat_names');
  const backupDir = join(dir, 'lat_names');
  await q(src, `CREATE SCHEMA "façade"; CREATE TABLE "façade"."café" (id int PRIMARY KEY, "naïve" text, "q""uote" int);
    CREATE INDEX "café_naïve" ON "façade"."café" ("naïve");
    CREATE TABLE "façade"."crème" (id int PRIMARY KEY, café_id int CONSTRAINT "crème_café" REFERENCES "façade"."café");
    INSERT INTO "façade"."café" SELECT g, 'déjà ' || g, g FROM generate_series(1, 50) g; INSERT INTO "façade"."crème" VALUES (1, 1)`);
  const full = await cli<BackupResult>(['backup', '--type', 'full', '--no-chain'], src, backupDir);
  expect(full.json?.error).toBeUndefined();
  expect(full.exitCode).toBe(0);
  expect(full.json.result.rows).toBe(51);
  const r = await cli<RestoreResult>(['restore', '--latest', '--target-db', 'lat_names_r'], src, backupDir);
  expect(r.json?.error).toBeUndefined();
  expect(r.exitCode).toBe(0);
  expect(await q(dbUrl('lat_names_r'), `SELECT count(*)::int AS n, min("naïve") AS v FROM "façade"."café"`)).toEqual([{ n: 50, v: 'déjà 1' }]);
  expect(await q(dbUrl('lat_names_r'), `SELECT conname, convalidated FROM pg_constraint WHERE conname = 'crème_café'`)).toEqual([{ conname: 'crème_café', convalidated: true }]);
  expect(await q(dbUrl('lat_names_r'), `SELECT indexname FROM pg_indexes WHERE indexname = 'café_naïve'`)).toEqual([{ indexname: 'café_naïve' }]);
  const content = (url: string) => q(url, `SELECT md5(string_agg(format('%s|%s|%s', id, "naïve", "q""uote"), ',' ORDER BY id)) AS h FROM "façade"."café"`);
  expect(await content(dbUrl('lat_names_r'))).toEqual(await content(src));
  const v = await cli(['backup', 'verify', '--latest'], src, backupDir);
  expect(v.json?.error).toBeUndefined();
  expect(v.exitCode).toBe(0);
});
