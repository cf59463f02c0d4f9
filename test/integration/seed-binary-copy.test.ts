import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BinaryCopyEncoder, encodeJsonbField, encodeTextField, unitsToString } from '../../src/seed/binary-copy.ts';
import { IdFactory } from '../../src/seed/ids.ts';
import { SEED_TABLES } from '../../src/seed/tables/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('bincopy');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`CREATE TABLE t (n int, a numeric(20,8), b numeric(10,4), c numeric(6,2), d numeric(20,1), ts timestamptz, j jsonb, s text, f bool, id text)`);
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const NUMERIC_CASES: Array<[number, number]> = [
  [0, 8], [1, 8], [-1, 8], [150_000_000, 8], [-50_000_000, 8], [12_345_678_912_345, 8], [Number.MAX_SAFE_INTEGER, 8], [-Number.MAX_SAFE_INTEGER, 8],
  [100_000_000_000_000, 8], [10_000, 8], [100_000_000_00, 8], [1, 4], [-12_345_678, 4], [10_000, 4], [5_000, 2], [99_999, 2], [972_503, 1], [10, 1],
];

describe('binary COPY encoder round-trips through PostgreSQL', () => {
  test('numerics at every scale, timestamps around the 2000 epoch, jsonb, UTF-8 text, nulls, ids', async () => {
    const enc = new BinaryCopyEncoder(64);
    enc.header();
    const times = [Date.UTC(2000, 0, 1), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2025, 5, 30, 12, 34, 56, 789), Date.UTC(2038, 0, 19, 3, 14, 8)];
    const expected: string[][] = [];
    NUMERIC_CASES.forEach(([units, scale], i) => {
      const col = scale === 8 ? 'a' : scale === 4 ? 'b' : scale === 2 ? 'c' : 'd';
      enc.row(10);
      enc.int4(i);
      for (const c of ['a', 'b', 'c', 'd']) {
        if (c === col) enc.numeric(units, scale);
        else enc.numeric(null, 0);
      }
      const t = times[i % times.length]!;
      enc.timestamptz(t);
      if (i % 2) enc.jsonb('{"x":[1,"ü"]}');
      else enc.field(encodeJsonbField('{}'));
      if (i % 3 === 0) enc.field(encodeTextField(null));
      else enc.text(`Zoë Müller ✓ ${i}`);
      enc.bool(i % 2 === 0);
      enc.prefixedHex12(Buffer.from('abcdef01-0000-8000-a000-', 'latin1'), i * 0x10001 + 2 ** 40);
      expected.push([String(i), unitsToString(units, scale), new Date(t).toISOString(), i % 2 ? '{"x": [1, "ü"]}' : '{}', i % 3 === 0 ? 'null' : `Zoë Müller ✓ ${i}`, String(i % 2 === 0),
        `abcdef01-0000-8000-a000-${(i * 0x10001 + 2 ** 40).toString(16).padStart(12, '0')}`]);
    });
    enc.trailer();
    await pipeline(Readable.from([enc.take()]), client.query(copyFrom('COPY t FROM STDIN WITH (FORMAT binary)')));
    const { rows } = await client.query(`SELECT n::text, coalesce(a, b, c, d)::text AS v, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts, j::text, coalesce(s, 'null') AS s, f::text, id FROM t ORDER BY t.n`);
    expect(rows.map((r) => [r.n, r.v, r.ts, r.j, r.s, r.f, r.id])).toEqual(expected);
  });

  test('numeric units beyond 2^53 are refused rather than rounded', () => {
    expect(() => new BinaryCopyEncoder().numeric(2 ** 53 + 2, 8)).toThrow(RangeError);
  });
});

describe('seed ids', () => {
  test('every seeded table has its own id prefix, and ids are UUID-shaped and ascending', () => {
    const ids = new IdFactory(42);
    const prefixes = SEED_TABLES.map((t) => ids.prefix(t.name));
    expect(new Set(prefixes).size).toBe(SEED_TABLES.length);
    const a = ids.id('TradeLog', 9);
    const b = ids.id('TradeLog', 10);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
    expect(new IdFactory(43).seedTag).not.toBe(ids.seedTag);
  });
});
