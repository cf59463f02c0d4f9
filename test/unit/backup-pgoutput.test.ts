import { describe, expect, test } from '@jest/globals';
import { CopyRowSplitter, frame, lsnText, parseMessage, pgTimeToIso, RecordSplitter } from '../../src/archive/pgoutput.ts';
import type { Manifest } from '../../src/archive/manifest.ts';
import { assertToTimeReplayable } from '../../src/restore/replay.ts';
import { timestampMicros } from '../../src/archive/changes.ts';

// Builders of pgoutput protocol-1 messages (https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html).
const i8 = (n: number) => Buffer.from([n]);
const i16 = (n: number) => (b => (b.writeInt16BE(n), b))(Buffer.alloc(2));
const i32 = (n: number) => (b => (b.writeInt32BE(n), b))(Buffer.alloc(4));
const i64 = (n: bigint) => (b => (b.writeBigInt64BE(n), b))(Buffer.alloc(8));
const cstr = (s: string) => Buffer.concat([Buffer.from(s), i8(0)]);
const tag = (t: string) => Buffer.from(t, 'latin1');
type V = null | 'u' | string;
const tuple = (vals: V[]) => Buffer.concat([i16(vals.length), ...vals.map((v) => (v === null ? tag('n') : v === 'u' ? tag('u') : Buffer.concat([tag('t'), i32(Buffer.byteLength(v)), Buffer.from(v)])))]);

describe('pgoutput messages', () => {
  test('Begin, Commit, Relation', () => {
    expect(parseMessage(Buffer.concat([tag('B'), i64(0x16B374D848n), i64(1_000_000n), i32(771)]))).toEqual({ tag: 'B', finalLsn: 0x16B374D848n, commitTimeUs: 1_000_000n, xid: 771 });
    expect(parseMessage(Buffer.concat([tag('C'), i8(0), i64(10n), i64(20n), i64(30n)]))).toEqual({ tag: 'C', commitLsn: 10n, endLsn: 20n, commitTimeUs: 30n });
    const rel = Buffer.concat([tag('R'), i32(16384), cstr('public'), cstr('Trade "Log"'), i8(100), i16(2), i8(1), cstr('id'), i32(23), i32(-1), i8(0), cstr('naïve'), i32(1700), i32(-1)]);
    expect(parseMessage(rel)).toEqual({ tag: 'R', relation: { oid: 16384, schema: 'public', name: 'Trade "Log"', columns: [{ name: 'id', typeOid: 23, key: true }, { name: 'naïve', typeOid: 1700, key: false }] } });
    // pg_catalog is sent as an empty namespace.
    expect(parseMessage(Buffer.concat([tag('R'), i32(1), cstr(''), cstr('x'), i8(100), i16(0)]))).toMatchObject({ relation: { schema: 'pg_catalog' } });
  });

  test('row changes keep null, unchanged TOAST and exact text (NaN, -Infinity, multibyte)', () => {
    const ins = parseMessage(Buffer.concat([tag('I'), i32(5), tag('N'), tuple(['NaN', null, '-Infinity', 'é\n\\x'])]));
    expect(ins.tag).toBe('I');
    if (ins.tag !== 'I') return;
    expect(ins.tuple.map((v) => (Buffer.isBuffer(v) ? v.toString() : v))).toEqual(['NaN', null, '-Infinity', 'é\n\\x']);
    const upd = parseMessage(Buffer.concat([tag('U'), i32(5), tag('K'), tuple(['1', null]), tag('N'), tuple(['2', 'u'])]));
    expect(upd).toMatchObject({ tag: 'U', relid: 5, oldKind: 'K' });
    if (upd.tag === 'U') expect(upd.tuple[1]).toBe('unchanged');
    expect(parseMessage(Buffer.concat([tag('U'), i32(5), tag('N'), tuple(['2'])]))).toMatchObject({ oldKind: null, old: null });
    expect(parseMessage(Buffer.concat([tag('D'), i32(6), tag('O'), tuple(['1', '{"a": 1}'])]))).toMatchObject({ tag: 'D', relid: 6, oldKind: 'O' });
    expect(parseMessage(Buffer.concat([tag('T'), i32(2), i8(3), i32(7), i32(8)]))).toEqual({ tag: 'T', relids: [7, 8], cascade: true, restartIdentity: true });
    expect(parseMessage(Buffer.concat([tag('M'), i8(1), i64(99n), cstr('axisor-db'), i32(3), Buffer.from('abc')]))).toMatchObject({ tag: 'M', transactional: true, prefix: 'axisor-db' });
  });

  test('a value running past its message is an error, not a silent cut', () => {
    const bad = Buffer.concat([tag('I'), i32(5), tag('N'), i16(1), tag('t'), i32(10), Buffer.from('abc')]);
    expect(() => parseMessage(bad)).toThrow(/past the message/);
  });

  test('times and LSNs', () => {
    expect(pgTimeToIso(0n)).toBe('2000-01-01T00:00:00.000000Z');
    expect(pgTimeToIso(838_000_000_000_123n)).toBe('2026-07-22T01:46:40.000123Z'); // PostgreSQL: '2000-01-01+00' + 838000000.000123 s
    expect(pgTimeToIso(-1n)).toBe('1999-12-31T23:59:59.999999Z');
    expect(lsnText(0x16B374D848n)).toBe('16/B374D848');
  });
});

describe('change file and COPY framing', () => {
  const msgs = [Buffer.from('B12345678'), Buffer.alloc(0), Buffer.from('x'.repeat(70000)), Buffer.from('C')];

  test('records split at every chunk boundary come back whole', () => {
    const file = Buffer.concat(msgs.map(frame));
    for (const step of [1, 3, 7, 4096, file.length]) {
      const s = new RecordSplitter();
      const out: Buffer[] = [];
      for (let i = 0; i < file.length; i += step) for (const m of s.push(file.subarray(i, i + step))) out.push(Buffer.from(m));
      s.end();
      expect(out).toEqual(msgs);
    }
  });

  test('a truncated change file is detected', () => {
    const file = Buffer.concat(msgs.map(frame));
    const s = new RecordSplitter();
    [...s.push(file.subarray(0, file.length - 1))];
    expect(() => s.end()).toThrow(/trailing bytes/);
  });

  test('binary COPY of one bytea column', () => {
    const copy = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), i32(0), i32(0), ...msgs.map((m) => Buffer.concat([i16(1), i32(m.length), m])), i16(-1)]);
    for (const step of [1, 5, 19, 1000, copy.length]) {
      const s = new CopyRowSplitter();
      const out: Buffer[] = [];
      for (let i = 0; i < copy.length; i += step) for (const m of s.push(copy.subarray(i, i + step))) out.push(Buffer.from(m));
      expect(out).toEqual(msgs);
    }
    expect(() => [...new CopyRowSplitter().push(Buffer.from('COPY not binary at all'))]).toThrow(/not a binary COPY/);
  });
});

describe('--to-time inside a table created and dropped between backups', () => {
  const m = { id: 'inc', replayGaps: [{ table: 'public.eph', from: '2026-01-01T10:00:00.000000Z', to: '2026-01-01T11:00:00.000000Z' }] } as unknown as Manifest;
  test('refused inside the window, naming table and times; fine outside', () => {
    expect(() => assertToTimeReplayable([m], timestampMicros('2026-01-01T10:30:00Z'))).toThrow(/public\.eph.*|between 2026-01-01T10:00:00.000000Z and 2026-01-01T11:00:00.000000Z/);
    expect(() => assertToTimeReplayable([m], timestampMicros('2026-01-01T10:00:00Z'))).toThrow();
    expect(() => assertToTimeReplayable([m], timestampMicros('2026-01-01T09:59:59Z'))).not.toThrow();
    expect(() => assertToTimeReplayable([m], timestampMicros('2026-01-01T11:00:00Z'))).not.toThrow();
    expect(() => assertToTimeReplayable([m], null)).not.toThrow();
  });
});
