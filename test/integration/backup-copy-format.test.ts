import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../src/archive/manifest.ts';
import { createTestDatabase, urlWithDatabase, ADMIN_URL, type TestDatabase } from '../helpers/db.ts';
import { cli, contentFingerprint, q, removeBackupTestLeftovers, restoreTargets } from '../helpers/backup.ts';
import type { BackupResult, Manifest, RestoreResult, VerifyResult } from '../helpers/results.ts';

// The data streams' COPY format. A full backup writes a table as COPY binary when every column type reads back in
// another database (introspect.ts, BINARY_PORTABLE), else as text. Proven over every built-in type family, with
// edge values, through backup -> verify drill (row digests of the restored rows against the backup's) -> restore
// -> content compared with the source; and over the types that must stay text (arrays of an enum, a composite,
// a domain over a domain, reg* OIDs, an extension's type), which would fail to load or change meaning in binary.

let src: TestDatabase;
let dir: string;
const { created, target } = restoreTargets('bkfmt');

const PORTABLE = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN label AS text CHECK (VALUE <> '');
CREATE TABLE allv (
  id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric, n2 numeric(12,4), f4 real, f8 float8, m money, t text, vc varchar(10),
  bc char(5), ch "char", nm name, b bytea, bo bool, d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
  u uuid, js json, jb jsonb, jp jsonpath, x xml, ip inet, cd cidr, mac macaddr, mac8 macaddr8, pt point, ln line, ls lseg,
  bx box, pa path, pg polygon, ci circle, bt bit(3), vb varbit, tv tsvector, tq tsquery, r4 int4range, rt tstzrange,
  mr int4multirange, ai int[], a2 int[], at text[], an numeric[], lsn pg_lsn, o oid, e mood, dom label, x8 xid8);
INSERT INTO allv VALUES
 (1, -32768, 9223372036854775807, 'NaN', -12345678.1234, 'NaN', '-0', '-92233720368547758.08', E'tab\\there\\nnewline \\\\ ''q''', 'short',
  'ab', 'z', 'a name', '\\x00ff5c0a', true, 'infinity', '24:00:00', '23:59:59.999999+14:59', '-infinity', '2000-02-29 12:00:00.000001+00', '-178000000 years -1 mon -2 days -03:04:05.000006',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"dup": 1, "dup": 2,  "sp": [1.0]}', '{"n": 1.0000000000000000000001, "s": "é\\u00e9x"}'::text::jsonb - 'none', '$.a[*] ? (@ > 1)', '<a>é &amp; b</a>',
  '2001:db8::1/64', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]',
  '(2,2),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),1e-300>', B'101', B'1', 'a:1 fat:2B cat', 'fat & !rat', '[1,10)', '[2025-01-01 00:00+00,infinity)',
  '{[1,3),[5,7)}', '{1,NULL,3}', '[0:1][1:2]={{1,2},{3,4}}', '{"a\\\\b","c\\"d",NULL,"",","}', '{1e-300,-0.5,NaN}', '16/B374D848', 4294967295, 'happy', 'x', '18446744073709551615'),
 (2, NULL, NULL, '123456789012345678901234567890.123456789012345678901', 0, 'Infinity', 1e-310, 0, '', NULL,
  NULL, NULL, NULL, '\\x', false, '4713-01-01 BC', '00:00', '00:00-15:59', '294276-12-31 23:59:59.999999', 'infinity', '0',
  NULL, 'null', '[]', '$', NULL, '0.0.0.0/0', '::/0', NULL, NULL, '(-0,0)', NULL, NULL,
  NULL, NULL, NULL, NULL, B'000', B'', '', NULL, 'empty', NULL,
  '{}', '{}', NULL, '{}', NULL, '0/0', 0, 'sad', NULL, '0');
INSERT INTO allv (id, t, jb, ai) SELECT g, repeat(md5(g::text), g % 50), jsonb_build_object('g', g, 'a', repeat('y', g % 300)), ARRAY[g, -g]
  FROM generate_series(3, 3000) g;`;

const NOT_PORTABLE = `
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN label2 AS label;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE odd (id int PRIMARY KEY, moods mood[], p pair, l2 label2, rc regclass, rts regtype[], ci citext);
INSERT INTO odd VALUES (1, '{happy,sad}', '(1,"x y")', 'l', 'allv', '{int4,mood}', 'MiXeD'), (2, '{}', NULL, NULL, NULL, NULL, NULL);
CREATE TABLE plain (id int PRIMARY KEY, v text);
INSERT INTO plain SELECT g, 'v' || g FROM generate_series(1, 10) g;
-- No columns at all (COPY has no column list then), and a generated column (not in the COPY: recomputed).
CREATE TABLE nocols ();
INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES;
CREATE TABLE gen (a int, b int GENERATED ALWAYS AS (a * 2) STORED);
INSERT INTO gen VALUES (1), (NULL);`;

function readManifest(bdir: string): Manifest {
  return JSON.parse(readFileSync(join(bdir, 'manifest.json'), 'utf8')) as Manifest;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'axisor-bkfmt-')); // first: a failing setup must not leave backups in ./undefined
  src = await createTestDatabase('bkfmt');
  await q(src.url, PORTABLE);
  await q(src.url, NOT_PORTABLE);
}, 60_000);

afterAll(() => removeBackupTestLeftovers({ created, src, dirs: [dir] }));

describe.each([
  { flag: [] as string[], want: { allv: 'binary', plain: 'binary', odd: undefined }, format: 2 },
  { flag: ['--copy-format', 'text'], want: { allv: undefined, plain: undefined, odd: undefined }, format: 1 },
])('backup $flag', ({ flag, want, format }) => {
  let id: string;
  beforeAll(async () => {
    const b = await cli<BackupResult>(['backup', '--no-chain', '--jobs', '2', ...flag], src.url, dir);
    expect(b.exitCode).toBe(0);
    id = b.json.result.id;
  }, 60_000);

  test('each table in the format its column types allow; the manifest format says whether binary is inside', () => {
    const m = readManifest(join(dir, id));
    expect(m.format).toBe(format);
    const fmt = Object.fromEntries(m.tables.map((t) => [t.name, t.copyFormat]));
    expect({ allv: fmt.allv, plain: fmt.plain, odd: fmt.odd }).toEqual(want);
  });

  test('the verify drill finds every table identical (row digests of the restored rows in the same format)', async () => {
    const v = await cli<VerifyResult>(['backup', 'verify', id, '--jobs', '2'], src.url, dir);
    expect(v.json.result.drill.tables.map((t) => [t.name, t.content])).toEqual(expect.arrayContaining([['allv', 'identical'], ['odd', 'identical'], ['plain', 'identical'], ['nocols', 'identical'], ['gen', 'identical']]));
    expect(v.json.result.drill.tables.find((t) => t.name === 'nocols')).toMatchObject({ rows: 2 });
    expect(v.exitCode).toBe(0);
  }, 60_000);

  test('a restore gives the source\'s values back, value for value', async () => {
    const name = target(format === 2 ? 'bin' : 'txt');
    const r = await cli<RestoreResult>(['restore', id, '--target-db', name, '--jobs', '2'], src.url, dir);
    expect(r.exitCode).toBe(0);
    const url = urlWithDatabase(ADMIN_URL, name);
    expect(await contentFingerprint(url)).toEqual(await contentFingerprint(src.url));
    // Beyond the text form: values that print alike but differ (float -0, numeric scale, jsonb key order kept by json).
    const exact = `SELECT id, f8::text, float8send(f8) AS f8b, n2::text, numeric_send(n) AS nb, js::text, jb::text, x::text, ai::text, a2::text FROM allv WHERE id <= 2 ORDER BY id`;
    expect(await q(url, exact)).toEqual(await q(src.url, exact));
    const odd = `SELECT moods::text, p::text, rc::text, rts::text, ci::text FROM odd ORDER BY id`;
    expect(await q(url, odd)).toEqual(await q(src.url, odd));
  }, 60_000);
});

test('a manifest of a format this version does not know is refused (65) before anything is restored', async () => {
  const b = await cli<BackupResult>(['backup', '--no-chain'], src.url, dir);
  expect(b.exitCode).toBe(0);
  const bdir = join(dir, b.json.result.id);
  const m = readManifest(bdir);
  m.format = 3;
  const text = `${JSON.stringify(m, null, 2)}\n`;
  writeFileSync(join(bdir, 'manifest.json'), text);
  writeFileSync(join(bdir, 'manifest.sha256'), `${sha256Hex(text)}  manifest.json\n`);
  const name = target('future');
  const r = await cli(['restore', b.json.result.id, '--target-db', name], src.url, dir);
  expect(r.exitCode).toBe(65);
  expect(r.stderr + JSON.stringify(r.json)).toMatch(/format 3/);
  expect((await q(ADMIN_URL, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length).toBe(0);
}, 60_000);
