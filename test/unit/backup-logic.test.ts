import { describe, expect, jest, test } from '@jest/globals';
import { lsnToBigInt, microsToIso, parseExact, scanHeader, timestampMicros } from '../../src/archive/changes.ts';
import { copyInSql, copyOutSql } from '../../src/archive/copy-sql.ts';
import { dumpProgress, planChunks } from '../../src/backup/full.ts';
import { ProgressTracker } from '../../src/render/progress.ts';
import { isConfinedPath, validateManifestPaths, type Manifest, type TableEntry } from '../../src/archive/manifest.ts';
import { addDigests, BinaryRowDigest, RowDigest } from '../../src/archive/row-digest.ts';
import { copyFormatOf } from '../../src/backup/full.ts';
import { manifestFormatFor } from '../../src/archive/manifest.ts';
import { ownerAlive, ownerTag, parseOwnerTag } from '../../src/pgtools/owner.ts';
import { firstErrorLine } from '../../src/pgtools/run.ts';
import { makeOwnedTempDir, sweepTempDirs } from '../../src/pgtools/tempdirs.ts';
import { parseForeignKeyScript, splitForeignKeys } from '../../src/restore/foreign-keys.ts';
import { planPrune } from '../../src/backup/prune.ts';
import { sqlValue } from '../../src/restore/replay.ts';
import { filterTocList } from '../../src/restore/toc.ts';

describe('wal2json values', () => {
  test('numbers keep their exact digits; strings with digits and quotes are untouched', () => {
    const r = parseExact('{"a":1.234567890123456789012,"b":-3e5,"s":"x\\"1.5\\" 2","t":true,"n":null,"arr":[1,"2"]}') as Record<string, unknown>;
    expect(r).toEqual({ a: '1.234567890123456789012', b: '-3e5', s: 'x"1.5" 2', t: true, n: null, arr: ['1', '2'] });
  });
  test('timestamps keep microseconds and LSNs compare numerically', () => {
    expect(timestampMicros('2026-11-26 10:51:22.101018+00')).toBe(timestampMicros('2026-11-26T10:51:22.101018Z'));
    expect(timestampMicros('2026-11-26 12:51:22.5+02')).toBe(timestampMicros('2026-11-26T10:51:22.500000Z'));
    expect(microsToIso(timestampMicros('2026-11-26T10:51:22.000007Z'))).toBe('2026-11-26T10:51:22.000007Z');
    expect(lsnToBigInt('1/0') > lsnToBigInt('0/FFFFFFFF')).toBe(true);
  });
});

describe('chunk planning', () => {
  test('splits only big tables, into ranges that cover every page, last one open-ended', () => {
    const plan = planChunks([{ bytes: 1_000_000_000 }, { bytes: 10_000 }], 2);
    const big = plan.filter((p) => p.table === 0).sort((a, b) => a.chunk - b.chunk);
    expect(big.length).toBeGreaterThan(1);
    expect(big[0]!.fromPage).toBeNull();
    expect(big[big.length - 1]!.toPage).toBeNull();
    for (let i = 1; i < big.length; i++) expect(big[i]!.fromPage).toBe(big[i - 1]!.toPage);
    expect(plan.filter((p) => p.table === 1)).toHaveLength(1);
    expect(planChunks([{ bytes: 1_000_000_000 }], 1)).toHaveLength(1);
  });
  test('quotes identifiers in the COPY statements', () => {
    const t = { schema: 'public', name: 'Trade"Log', columns: ['id', 'Weird Col'] };
    expect(copyOutSql(t, { fromPage: null, toPage: null })).toBe('COPY "public"."Trade""Log" ("id", "Weird Col") TO STDOUT');
    expect(copyOutSql(t, { fromPage: 10, toPage: null })).toBe(`COPY (SELECT "id", "Weird Col" FROM ONLY "public"."Trade""Log" WHERE ctid >= '(10,0)'::tid) TO STDOUT`);
    expect(copyOutSql({ ...t, copyFormat: 'binary' }, { fromPage: null, toPage: 3 })).toBe(`COPY (SELECT "id", "Weird Col" FROM ONLY "public"."Trade""Log" WHERE ctid < '(3,0)'::tid) TO STDOUT WITH (FORMAT binary)`);
    expect(copyOutSql({ ...t, copyFormat: 'binary' })).toBe('COPY "public"."Trade""Log" ("id", "Weird Col") TO STDOUT WITH (FORMAT binary)');
    // A table without columns: no column list (`()` is a syntax error); a page range selects nothing per row.
    expect(copyOutSql({ ...t, columns: [] })).toBe('COPY "public"."Trade""Log" TO STDOUT');
    expect(copyOutSql({ ...t, columns: [], copyFormat: 'binary' }, { fromPage: 1, toPage: 2 })).toBe(`COPY (SELECT  FROM ONLY "public"."Trade""Log" WHERE ctid >= '(1,0)'::tid AND ctid < '(2,0)'::tid) TO STDOUT WITH (FORMAT binary)`);
    expect(copyInSql('"t"', '', 'binary', true)).toBe('COPY "t" FROM STDIN WITH (FORMAT binary, FREEZE)');
    expect(copyInSql('"t"', '"a"', undefined, false)).toBe('COPY "t" ("a") FROM STDIN');
  });
});

function table(name: string, objects: number[], fkeys: Array<{ oid: number; ref: string }> = []): TableEntry {
  return { schema: 'public', name, columns: ['id'], rows: 0, chunks: [], objects, fkeys, ownedSequences: [`${name}_id_seq`], hasIdentity: true };
}

test('--table keeps chosen tables and non-table objects, drops the rest and dangling foreign keys', () => {
  const list = [
    ';', '; Archive created at ...',
    '210; 1247 16390 TYPE public plan postgres',
    '211; 1259 16400 TABLE public User postgres',
    '212; 1259 16410 TABLE public TradeLog postgres',
    '213; 1259 16411 SEQUENCE public TradeLog_id_seq postgres',
    '214; 0 0 SEQUENCE OWNED BY public TradeLog_id_seq postgres',
    '215; 2606 16420 CONSTRAINT public User User_pkey postgres',
    '216; 1259 16430 INDEX public trade_user_idx postgres',
    '217; 2606 16440 FK CONSTRAINT public TradeLog TradeLog_user_id_fkey postgres',
    '218; 0 0 COMMENT public TABLE User postgres',
  ].join('\n');
  const tables = [table('User', [16400, 16420]), table('TradeLog', [16410, 16411, 16430], [{ oid: 16440, ref: 'public.User' }])];
  const onlyTrade = filterTocList(list, tables, new Set(['public.TradeLog']));
  expect(onlyTrade.list.trim().split('\n').map((l) => l.split(';')[0])).toEqual(['210', '212', '213', '214', '216']);
  expect(onlyTrade.droppedForeignKeys).toBe(1);
  const onlyUser = filterTocList(list, tables, new Set(['public.User']));
  expect(onlyUser.list.trim().split('\n').map((l) => l.split(';')[0])).toEqual(['210', '211', '215', '218']);
});

describe('retention', () => {
  const m = (id: string, type: Manifest['type'], parent: string | null, finishedAt: string, startedAt = finishedAt) => ({ id, type, parent, database: 'axisor', startedAt, finishedAt, totals: { bytes: 10, rawBytes: 0, rows: 0 } }) as unknown as Manifest;
  const all = [
    m('20250101T020000Z-full-0001', 'full', null, '2025-01-01T02:00:00Z'),
    m('20250101T030000Z-incr-0002', 'incremental', '20250101T020000Z-full-0001', '2025-01-01T03:00:00Z'),
    m('20250102T020000Z-full-0003', 'full', null, '2025-01-02T02:00:00Z'),
    m('20250102T030000Z-incr-0004', 'incremental', '20250102T020000Z-full-0003', '2025-01-02T03:00:00Z'),
    m('20250102T040000Z-incr-0005', 'incremental', '20250102T030000Z-incr-0004', '2025-01-02T04:00:00Z'),
  ];
  test('keep-last keeps the chain a kept incremental needs', () => {
    const d = Object.fromEntries(planPrune(all, { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepSchemaOnly: null }).map((x) => [x.id.slice(-4), x]));
    expect(Object.entries(d).filter(([, x]) => x.keep).map(([k]) => k)).toEqual(['0003', '0004', '0005']);
    expect(d['0003']!.reasons).toContain('needed by 20250102T040000Z-incr-0005');
    expect(d['0001']!.reasons).toEqual(['matched no keep rule']);
  });
  test('within one second the newest is the one that started last, not the larger random id suffix', () => {
    const same = [
      m('20250103T020000Z-full-0006', 'full', null, '2025-01-03T02:00:00.050Z', '2025-01-03T02:00:00.000Z'),
      m('20250103T020001Z-incr-ffff', 'incremental', '20250103T020000Z-full-0006', '2025-01-03T02:00:01.300Z', '2025-01-03T02:00:01.100Z'),
      m('20250103T020001Z-incr-0000', 'incremental', '20250103T020001Z-incr-ffff', '2025-01-03T02:00:01.900Z', '2025-01-03T02:00:01.700Z'),
    ];
    const d = planPrune(same, { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepSchemaOnly: null });
    expect(d.find((x) => x.id.endsWith('0000'))!.reasons).toContain('newest backup');
  });
  test('keep-daily keeps the newest of each day, with its chain', () => {
    const kept = planPrune(all, { keepLast: 0, keepDaily: 2, keepWeekly: 0, keepSchemaOnly: null }).filter((x) => x.keep).map((x) => x.id.slice(-4));
    expect(kept).toEqual(['0001', '0002', '0003', '0004', '0005']);
    expect(() => planPrune(all, { keepLast: -1, keepDaily: 0, keepWeekly: 0, keepSchemaOnly: null })).toThrow();
  });
});

describe('catalog order', () => {
  test('two backups started in the same second are ordered by their manifests\' start times, not the random id suffix', async () => {
    const { mkdtemp, mkdir } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { listCatalog } = await import('../../src/archive/catalog.ts');
    const { writeManifest, MANIFEST_FORMAT } = await import('../../src/archive/manifest.ts');
    const dir = await mkdtemp(join(tmpdir(), 'axisor-cat-'));
    // 'ffff' sorts after '0000' as a string, but it started first.
    const ids = [['20260101T000000Z-incr-ffff', '2026-01-01T00:00:00.100Z'], ['20260101T000000Z-incr-0000', '2026-01-01T00:00:00.900Z']];
    for (const [id, startedAt] of ids) {
      await mkdir(join(dir, id!));
      await writeManifest(join(dir, id!), { format: MANIFEST_FORMAT, id, type: 'incremental', startedAt, files: [], tables: [] } as unknown as Manifest);
    }
    const { rm } = await import('node:fs/promises');
    try {
      const got = await listCatalog(dir);
      expect(got.map((e) => e.id)).toEqual(['20260101T000000Z-incr-ffff', '20260101T000000Z-incr-0000']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('scanHeader (capture without parsing column values)', () => {
  test('row changes: action and table from the head, unescaped, no full parse', () => {
    const u = '{"action":"U","xid":774,"timestamp":"2026-11-26 12:34:42.448001+00","lsn":"0/32DEA4F8","schema":"public","table":"Trade\\"Log","columns":[{"name":"schema","value":"x\\",\\"table\\":\\"y"}],"identity":[{"name":"id","value":1}]}';
    expect(scanHeader(u)).toEqual({ action: 'U', schema: 'public', table: 'Trade"Log' });
    expect(scanHeader('{"action":"T","xid":9,"lsn":"0/1","schema":"s p","table":"t"}')).toEqual({ action: 'T', schema: 's p', table: 't' });
  });
  test('transaction and message lines come back whole', () => {
    const b = scanHeader('{"action":"B","xid":774,"timestamp":"2026-11-26 12:34:42.448001+00","lsn":"0/3490BDD8","nextlsn":"0/3490BE08"}');
    expect(b).toMatchObject({ action: 'B', record: { nextlsn: '0/3490BE08' } });
    const m = scanHeader('{"action":"M","xid":775,"lsn":"0/1","transactional":true,"prefix":"axisor-db","content":"id-1"}');
    expect(m.record).toMatchObject({ transactional: true, prefix: 'axisor-db', content: 'id-1' });
  });
  test('an unexpected key order falls back to the full parse', () => {
    expect(scanHeader('{"action":"I","table":"t","schema":"s","columns":[{"name":"n","value":12345678901234567890}]}')).toMatchObject({ action: 'I', schema: 's', table: 't', record: { columns: [{ value: '12345678901234567890' }] } });
  });
});

describe('replay values', () => {
  test('bytea hex gets its \\x prefix from the type name (older files) or the catalog (current files), once', () => {
    const none = new Set<string>();
    expect(sqlValue({ name: 'b', type: 'bytea', value: 'dead' }, none)).toBe('\\xdead');
    expect(sqlValue({ name: 'b', value: 'dead' } as never, new Set(['b']))).toBe('\\xdead');
    expect(sqlValue({ name: 'b', value: 'dead' } as never, none)).toBe('dead');
    expect(sqlValue({ name: 'd', value: '\\x01' } as never, new Set(['d']))).toBe('\\x01');
    expect(sqlValue({ name: 'b', value: null } as never, new Set(['b']))).toBeNull();
  });
});

describe('row digest (order-independent content fingerprint)', () => {
  const rows = Array.from({ length: 2000 }, (_, i) => `${i}\tuser-${i}@example.com\t${(i * 1.5).toFixed(2)}\t\\N\n`);
  const digestOf = (lines: string[], pieces = 1) => {
    const text = Buffer.from(lines.join(''));
    const d = new RowDigest();
    const step = Math.ceil(text.length / pieces);
    for (let o = 0; o < text.length; o += step) d.update(text.subarray(o, o + step));
    return { digest: d.digest(), rows: d.rows };
  };
  test('the same rows in any order and split anywhere give the same digest and count', () => {
    const a = digestOf(rows);
    const shuffled = [...rows].sort(() => 0).reverse();
    expect(digestOf(shuffled)).toEqual(a);
    expect(digestOf(rows, 7)).toEqual(a);
    expect(digestOf(rows, 997)).toEqual(a); // rows split across chunk boundaries
    expect(a.rows).toBe(2000);
  });
  test('one changed byte, a dropped row, a duplicated row or two swapped values change it', () => {
    const a = digestOf(rows).digest;
    const changed = [...rows];
    changed[1234] = changed[1234]!.replace('1851.00', '1851.01');
    expect(digestOf(changed).digest).not.toBe(a);
    expect(digestOf(rows.slice(1)).digest).not.toBe(a);
    expect(digestOf([...rows, rows[5]!]).digest).not.toBe(a);
    const swapped = [...rows];
    swapped[1] = '1\tuser-2@example.com\t1.50\t\\N\n';
    swapped[2] = '2\tuser-1@example.com\t3.00\t\\N\n';
    expect(digestOf(swapped).digest).not.toBe(a);
    // Duplicates count (a sum, not an xor): two copies of a row are not zero copies.
    expect(digestOf([rows[0]!, rows[0]!]).digest).not.toBe(digestOf([]).digest);
  });
  test('a row of megabytes fed in small chunks is joined once, with the digest of the row fed whole', () => {
    // A text row that spans 2,000 chunks: its pieces are kept and joined at its newline (one Buffer.concat), not
    // concatenated again at every chunk (2,000 copies of a growing row).
    const big = `1\t${'x'.repeat(2_000_000)}\n`;
    const text = Buffer.from(rows[0]! + big + rows[1]!);
    const whole = new RowDigest();
    whole.update(text);
    const expected = { digest: whole.digest(), rows: whole.rows };
    const concat = jest.spyOn(Buffer, 'concat');
    try {
      const d = new RowDigest();
      for (let o = 0; o < text.length; o += 1000) d.update(text.subarray(o, o + 1000));
      expect(concat.mock.calls.length).toBeLessThanOrEqual(3); // the big row once, the rows split by a boundary once each
      expect({ digest: d.digest(), rows: d.rows }).toEqual(expected);
    } finally {
      concat.mockRestore();
    }
    expect(expected.rows).toBe(3);
  });
  test('digests of parts add up to the digest of the whole', () => {
    expect(addDigests([digestOf(rows.slice(0, 700)).digest, digestOf(rows.slice(700)).digest])).toBe(digestOf(rows).digest);
    expect(addDigests([])).toBe('0000000000000000');
  });
});

describe('binary row digest (COPY binary streams)', () => {
  // A COPY binary stream as the server writes it: signature, flags, header extension, tuples, the -1 trailer.
  const header = (ext = 0) => Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.from([0, 0, 0, 0]), u32(ext), Buffer.alloc(ext, 7)]);
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  const tuple = (fields: Array<string | null | Buffer>) => {
    const parts: Buffer[] = [Buffer.from([fields.length >> 8, fields.length & 255])];
    for (const f of fields) {
      if (f === null) parts.push(u32(-1));
      else {
        const b = typeof f === 'string' ? Buffer.from(f) : f;
        parts.push(u32(b.length), b);
      }
    }
    return Buffer.concat(parts);
  };
  const trailer = Buffer.from([0xff, 0xff]);
  const rows = [
    ...Array.from({ length: 300 }, (_, i) => tuple([`${i}`, i % 7 === 0 ? null : `user-${i}`, '', Buffer.alloc(8, i)])),
    tuple([]), // a table without columns has tuples of no fields
    tuple(['big', Buffer.alloc(70_000, 1)]), // a field longer than any chunk below
    tuple([null, null]),
  ];
  const stream = (rs: Buffer[], ext = 0) => Buffer.concat([header(ext), ...rs, trailer]);
  const digestOf = (b: Buffer, cuts: number[]) => {
    const d = new BinaryRowDigest();
    let o = 0;
    for (const c of [...cuts, b.length]) {
      d.update(b.subarray(o, c));
      o = c;
    }
    return { digest: d.digest(), rows: d.rows, bytes: d.bytes };
  };
  const whole = stream(rows);
  const want = digestOf(whole, []);

  test('every row counts once, header and trailer are not rows, and the bytes are counted', () => {
    expect(want.rows).toBe(rows.length);
    expect(want.bytes).toBe(whole.length);
  });
  test('split at every byte of the header, the first rows and the trailer, and around the long field: the same digest', () => {
    const longAt = whole.length - 2 - rows[rows.length - 1]!.length - rows[rows.length - 2]!.length;
    const cuts = [...Array.from({ length: 400 }, (_, i) => i + 1), ...Array.from({ length: 40 }, (_, i) => longAt - 20 + i), ...Array.from({ length: 60_000 / 997 }, (_, i) => longAt + 10 + i * 997), whole.length - 3, whole.length - 2, whole.length - 1];
    for (const c of cuts) expect(digestOf(whole, [c])).toEqual(want);
    // Two cuts close together: a header or a row in three pieces.
    for (let c = 1; c < 60; c++) expect(digestOf(whole, [c, c + 3])).toEqual(want);
    // Small chunks everywhere (a row spanning many chunks, pieces joined once).
    expect(digestOf(whole, Array.from({ length: Math.floor(whole.length / 509) }, (_, i) => (i + 1) * 509))).toEqual(want);
  });
  test('a header extension is skipped; the same rows in another order give the same digest', () => {
    expect(digestOf(stream(rows, 13), [5, 25, 31]).digest).toBe(want.digest);
    expect(digestOf(stream([...rows].reverse()), [1000]).digest).toBe(want.digest);
  });
  test('streams one after the other (a split table read back as one): the digests add up', () => {
    const a = stream(rows.slice(0, 100));
    const b = stream(rows.slice(100));
    expect(digestOf(Buffer.concat([a, b]), [a.length - 1, a.length + 5])).toEqual({ ...want, bytes: a.length + b.length });
    expect(addDigests([digestOf(a, []).digest, digestOf(b, []).digest])).toBe(want.digest);
  });
  test('a changed byte in a value, a NULL for an empty value, a dropped or duplicated row change it', () => {
    const changed = [...rows];
    changed[42] = tuple(['42', 'user-43', '', Buffer.alloc(8, 42)]);
    expect(digestOf(stream(changed), []).digest).not.toBe(want.digest);
    const nulled = [...rows];
    nulled[1] = tuple(['1', 'user-1', null, Buffer.alloc(8, 1)]);
    expect(digestOf(stream(nulled), []).digest).not.toBe(want.digest);
    expect(digestOf(stream(rows.slice(1)), []).digest).not.toBe(want.digest);
    expect(digestOf(stream([...rows, rows[3]!]), []).digest).not.toBe(want.digest);
  });
  test('text is not read as binary: a stream without the signature is refused', () => {
    expect(() => new BinaryRowDigest().update(Buffer.from('1\tabc\n2\tdef\n................'))).toThrow(/signature/);
  });
  test('a stream cut short: its last bytes are hashed as a row, so the digest differs', () => {
    expect(digestOf(whole.subarray(0, whole.length - 40), []).digest).not.toBe(want.digest);
  });
});

describe('copy format per table', () => {
  test('auto: binary where every column type is portable; text otherwise or with --copy-format text', () => {
    expect(copyFormatOf({ binaryPortable: true }, 'auto')).toBe('binary');
    expect(copyFormatOf({ binaryPortable: true }, undefined)).toBe('binary');
    expect(copyFormatOf({ binaryPortable: false }, 'auto')).toBe('text');
    expect(copyFormatOf({ binaryPortable: true }, 'text')).toBe('text');
  });
  test('a manifest with binary tables is format 2 (older versions refuse it); text only stays format 1', () => {
    expect(manifestFormatFor([{}, { copyFormat: 'binary' }])).toBe(2);
    expect(manifestFormatFor([{}, { copyFormat: 'text' }])).toBe(1);
    expect(manifestFormatFor([])).toBe(1);
  });
});

describe('manifest paths are confined to the backup', () => {
  const base = (over: Partial<Manifest> = {}) => ({
    id: 'x', type: 'full', files: [{ path: 'schema.dump', bytes: 1, sha256: 'a' }, { path: 'data/0000-000.copy.zst', bytes: 1, sha256: 'b' }],
    tables: [{ schema: 'public', name: 't', chunks: [{ file: 'data/0000-000.copy.zst', rows: 1, rawBytes: 1 }] }], ...over,
  }) as unknown as Manifest;
  test('plain relative paths pass; .., absolute, empty, backslash and ./ fail', () => {
    expect(() => validateManifestPaths(base())).not.toThrow();
    for (const p of ['../../../elsewhere/evil.copy.zst', '/etc/passwd', '', 'data/../../x', './data/x', 'data//x', 'data\\..\\x']) expect(isConfinedPath(p)).toBe(false);
    const evil = '../../../elsewhere/evil.copy.zst';
    expect(() => validateManifestPaths(base({ files: [{ path: 'schema.dump', bytes: 1, sha256: 'a' }, { path: evil, bytes: 1, sha256: 'b' }], tables: [{ schema: 'public', name: 't', chunks: [{ file: evil, rows: 1, rawBytes: 1 }] }] as never }))).toThrow(/not inside/);
  });
  test('a data file not listed in files[] (so never checksummed) fails, and so does a missing schema.dump', () => {
    expect(() => validateManifestPaths(base({ files: [{ path: 'schema.dump', bytes: 1, sha256: 'a' }] }))).toThrow(/not listed/);
    expect(() => validateManifestPaths(base({ files: [{ path: 'data/0000-000.copy.zst', bytes: 1, sha256: 'b' }] }))).toThrow(/schema.dump/);
  });
});

describe('schema-only backups in retention', () => {
  const m = (id: string, type: Manifest['type'], at: string) => ({ id, type, parent: null, database: 'axisor', startedAt: at, finishedAt: at, totals: { bytes: 10, rawBytes: 0, rows: 0 } }) as unknown as Manifest;
  const list = [m('20250101T020000Z-full-0001', 'full', '2025-01-01T02:00:00Z'), m('20250101T030000Z-schema-0002', 'schema-only', '2025-01-01T03:00:00Z'), m('20250101T040000Z-schema-0003', 'schema-only', '2025-01-01T04:00:00Z')];
  test('never the pick of a data rule: the only full backup stays', () => {
    const d = planPrune(list, { keepLast: 1, keepDaily: 1, keepWeekly: 1, keepSchemaOnly: null });
    expect(d.find((x) => x.type === 'full')!.keep).toBe(true);
    expect(d.find((x) => x.type === 'full')!.reasons).toContain('newest backup');
    expect(d.filter((x) => x.type === 'schema-only').every((x) => x.keep)).toBe(true);
  });
  test('--keep-schema-only N keeps the newest N of them', () => {
    const d = planPrune(list, { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepSchemaOnly: 1 });
    expect(d.filter((x) => x.keep).map((x) => x.id.slice(-4))).toEqual(['0001', '0003']);
  });
});

describe('tool errors and foreign keys', () => {
  test('the first real error line of pg_restore -j, not "a worker process died"', () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  insert or update on table "TradeLog" violates foreign key constraint "TradeLog_user_id_fkey"',
      'DETAIL:  Key (user_id)=(u-missing) is not present in table "User".',
      'Command was: ALTER TABLE ONLY public."TradeLog" ADD CONSTRAINT ...',
      'pg_restore: error: a worker process died unexpectedly',
    ].join('\n');
    const line = firstErrorLine(stderr);
    expect(line).toMatch(/^pg_restore: error: could not execute query: ERROR:  insert or update on table "TradeLog" violates/);
    expect(line).toContain('DETAIL:  Key (user_id)=(u-missing)');
  });
  test('FK entries are split from a TOC list and parsed from the script pg_restore prints', () => {
    const { rest, foreignKeys } = splitForeignKeys('; header\n10; 1259 1 TABLE public User postgres\n11; 2606 2 FK CONSTRAINT public TradeLog TradeLog_user_id_fkey postgres\n');
    expect(foreignKeys.trim()).toBe('11; 2606 2 FK CONSTRAINT public TradeLog TradeLog_user_id_fkey postgres');
    expect(rest).not.toContain('FK CONSTRAINT');
    const script = `SET statement_timeout = 0;\n\n--\n-- Name: Trade Log Trade Log_user fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres\n--\n\nALTER TABLE ONLY public."Trade Log"\n    ADD CONSTRAINT "Trade Log_user fkey" FOREIGN KEY (user_id) REFERENCES public."User"(id);\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n`;
    expect(parseForeignKeyScript(script)).toEqual([{ table: 'public.Trade Log', constraint: 'Trade Log_user fkey', sql: 'ALTER TABLE ONLY public."Trade Log"\n    ADD CONSTRAINT "Trade Log_user fkey" FOREIGN KEY (user_id) REFERENCES public."User"(id);', ref: 'public.User' }]);
  });
});

describe('leftovers of killed runs', () => {
  test('owner tags: our own process is alive; a dead pid or a reused pid (other start time) is not', () => {
    const me = parseOwnerTag(`axisor-pass-${ownerTag()}-abc123`, 'axisor-pass-')!;
    expect(me.pid).toBe(process.pid);
    expect(ownerAlive(me)).toBe(true);
    expect(ownerAlive({ ...me, start: '1' })).toBe(false);
    expect(ownerAlive({ pid: 2 ** 22 + 12345 })).toBe(false);
    expect(parseOwnerTag('axisor-pass-Xyz123', 'axisor-pass-')).toBeNull();
  });
  test('sweepTempDirs removes only directories of dead owners', async () => {
    const { mkdtempSync, mkdirSync, existsSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const base = mkdtempSync(join(tmpdir(), 'axisor-sweep-'));
    try {
      const dead = join(base, `axisor-pass-${2 ** 22 + 4242}-1-aaaaaa`);
      const reused = join(base, `axisor-toc-${process.pid}-1-bbbbbb`);
      const mine = makeOwnedTempDir('axisor-toc-', base);
      const other = join(base, 'something-else');
      for (const d of [dead, reused, other]) mkdirSync(d);
      expect(sweepTempDirs(base).sort()).toEqual([dead, reused].sort());
      expect([existsSync(dead), existsSync(reused), existsSync(mine), existsSync(other)]).toEqual([false, false, true, true]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('failure classification', () => {
  test('a server that goes away mid-run is recognised in node-postgres and libpq wording', async () => {
    const { isConnectionLost, classifyFailure } = await import('../../src/archive/classify.ts');
    const { ToolError, ConnectionError } = await import('../../src/errors.ts');
    expect(isConnectionLost(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionLost(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionLost(new ToolError('failed', 'pg_restore failed (exit 1)', { stderrTail: 'pg_restore: error: server closed the connection unexpectedly' }))).toBe(true);
    expect(isConnectionLost(new ToolError('failed', 'pg_restore failed (exit 1)', { stderrTail: 'ERROR: relation "x" does not exist' }))).toBe(false);
    const lost = await classifyFailure(new Error('Connection terminated unexpectedly'), { what: 'restore into x', outcome: 'the target was not changed' });
    expect((lost as InstanceType<typeof ConnectionError>).code).toBe('connection.lost');
    const reset = await classifyFailure(new ConnectionError('reset', 'connection reset'), { what: 'backup', outcome: 'nothing was published', connected: true });
    expect((reset as InstanceType<typeof ConnectionError>).code).toBe('connection.lost');
    const atStart = await classifyFailure(new ConnectionError('refused', 'refused'), { what: 'backup', outcome: 'nothing was published' });
    expect((atStart as InstanceType<typeof ConnectionError>).code).toBe('connection.refused');
  });
  test('ENOSPC is 74 with the free space; EACCES, ENOTDIR and EEXIST are 73 naming path and OS user; anything else passes through', async () => {
    const { classifyFailure, pathError } = await import('../../src/archive/classify.ts');
    const { tmpdir } = await import('node:os');
    const full = await classifyFailure(Object.assign(new Error('write ENOSPC'), { code: 'ENOSPC' }), { dir: tmpdir(), needBytes: 5e9, what: 'backup of x', outcome: 'nothing was published' });
    expect(full).toMatchObject({ code: 'no_space.disk_full', exitCode: 74 });
    expect((full as Error).message).toMatch(/free; it needs about 4\.7 GB/);
    for (const code of ['EACCES', 'EPERM']) expect(pathError(Object.assign(new Error('x'), { code }), '/b', 'cannot write')).toMatchObject({ code: 'path.permission', exitCode: 73 });
    for (const code of ['ENOTDIR', 'EEXIST']) expect(pathError(Object.assign(new Error('x'), { code }), '/b', 'cannot write')).toMatchObject({ code: 'path.not_a_directory' });
    expect(pathError(Object.assign(new Error('x'), { code: 'EACCES' }), '/b', 'cannot write')!.message).toMatch(/\/b: permission denied for OS user .*uid \d+/);
    const other = new Error('something else');
    expect(await classifyFailure(other, { what: 'backup', outcome: '' })).toBe(other);
  });
});

describe('full backup progress (issue 15: percentage, throughput and ETA while the data streams run)', () => {
  test('COPY text read against the tables\' size: a total, a percentage under 100 until the last stream ends, then 100', () => {
    const at = (rawDone: number, doneChunks: number) => dumpProgress('dump', { rawDone, estimate: 1000, doneChunks, chunks: 4 });
    expect(at(0, 0)).toMatchObject({ done: 0, total: 1000, unit: 'bytes' });
    expect(at(500, 2)).toMatchObject({ done: 500, total: 1000, message: '2/4 data streams' });
    // COPY text larger than the estimate: the total follows, so no "100%" while streams still run.
    const over = at(1500, 3);
    expect(over.total!).toBeGreaterThan(1500);
    expect(at(1600, 4)).toMatchObject({ done: 1600, total: 1600 });
    let now = 0;
    const tracker = new ProgressTracker(() => now);
    tracker.stats(at(0, 0));
    now = 2000;
    const s = tracker.stats(at(500, 2));
    expect(s).toMatchObject({ percent: 50, rate: 250 });
    expect(s.etaMs).toBe(2000);
    expect(tracker.stats(over).percent).toBeLessThan(100);
  });
});
