import { describe, expect, test } from '@jest/globals';
import type { CatalogEntry } from '../../src/archive/catalog.ts';
import type { Manifest, TableEntry } from '../../src/archive/manifest.ts';
import type { CaptureResult } from '../../src/backup/capture.ts';
import {
  chainHead, chainKeyBlocker, decodingBlocker, IncrementalNeedsFull, incrementalManifest, resumePoint, slotBlocker, tableBlocker, tablesAfterChanges,
  type IncrementalCapture, type IncrementalStart,
} from '../../src/backup/incremental-plan.ts';
import type { ServerInfo, SourceTable } from '../../src/backup/introspect.ts';
import type { SlotState } from '../../src/backup/slots.ts';
import type { RunContext } from '../../src/backup/types.ts';
import { ConfigError, ExitCode, PrerequisiteError } from '../../src/errors.ts';

const manifest = (over: Partial<Manifest>): Manifest => ({
  id: 'x', type: 'full', parent: null, chainRoot: 'x', database: 'axisor', slot: null, lsn: null, snapshot: null, tables: [],
  tools: { axisorDb: '0.0.0', pgDump: 'pg_dump (PostgreSQL) 15.8', compressor: null }, schemaFingerprint: 'fp', ...over,
}) as Manifest;
const entry = (m: Manifest): CatalogEntry => ({ id: m.id, dir: `/b/${m.id}`, manifest: m }) as unknown as CatalogEntry;
const slot = (over: Partial<SlotState> = {}): SlotState => ({
  name: 'axisor_s', plugin: 'pgoutput', active: false, temporary: false, walStatus: 'reserved', restartLsn: '0/100', confirmedFlushLsn: '0/200',
  retainedBytes: 0, lagBytes: 0, safeWalSize: null, ...over,
});
const table = (over: Partial<SourceTable>): SourceTable => ({
  schema: 'public', name: 't', oid: 1, bytes: 0, replident: 'd', persistence: 'p', hasPk: true, columns: ['id'], binaryPortable: true, objects: [1], fkeys: [], ownedSequences: [], ...over,
});
const tableEntry = (name: string, rows: number): TableEntry => ({
  schema: 'public', name, columns: ['id'], rows, chunks: [{ file: `${name}.copy`, rows, rawBytes: 1 }], objects: [], fkeys: [], ownedSequences: [], hasIdentity: true,
});
const info = { database: 'axisor', encoding: 'UTF8', version: '15.8', versionNum: 150008 } as ServerInfo;

describe('incremental: which chain it extends', () => {
  test('the newest full backup with a slot, and the newest member of its chain', () => {
    const old = manifest({ id: 'f1', slot: { name: 's1', plugin: 'pgoutput' }, chainRoot: 'f1' });
    const i1 = manifest({ id: 'i1', type: 'incremental', parent: 'f1', chainRoot: 'f1' });
    const root = manifest({ id: 'f2', slot: { name: 's2', plugin: 'pgoutput' }, chainRoot: 'f2' });
    const i2 = manifest({ id: 'i2', type: 'incremental', parent: 'f2', chainRoot: 'f2' });
    const noSlot = manifest({ id: 'f3', chainRoot: 'f3' });
    const other = manifest({ id: 'o1', database: 'other', slot: { name: 's9', plugin: 'pgoutput' }, chainRoot: 'o1' });
    const catalog = [old, i1, root, i2, noSlot, other].map(entry);
    expect(chainHead(catalog, 'axisor')).toEqual({ root, parent: i2 });
    expect(chainHead([root].map(entry), 'axisor')).toEqual({ root, parent: root });
    expect(chainHead([noSlot, other].map(entry), 'axisor')).toBeNull();
  });
});

describe('incremental: preconditions', () => {
  test('a missing or lost slot stops the chain (prerequisite), a live one does not', () => {
    expect(slotBlocker(slot(), 'axisor_s', 'f1')).toBeNull();
    const gone = slotBlocker(undefined, 'axisor_s', 'f1');
    expect(gone).toBeInstanceOf(PrerequisiteError);
    expect(gone!.code).toMatch(/slot_missing$/);
    const lost = slotBlocker(slot({ walStatus: 'lost' }), 'axisor_s', 'f1');
    expect(lost!.code).toMatch(/slot_lost$/);
    expect(lost!.exitCode).toBe(ExitCode.PREREQUISITE);
  });

  test('tables without replica identity come first, then unlogged tables; each names the table', () => {
    expect(tableBlocker([table({}), table({ name: 'full', replident: 'f', hasPk: false }), table({ name: 'idx', replident: 'i', hasPk: false })])).toBeNull();
    const both = [table({ name: 'u', persistence: 'u' }), table({ name: 'nopk', hasPk: false })];
    expect(tableBlocker(both)!.code).toMatch(/no_identity$/);
    expect(tableBlocker(both)!.hint).toContain('public.nopk');
    expect(tableBlocker([table({ name: 'nothing', replident: 'n' })])!.code).toMatch(/no_identity$/);
    const unlogged = tableBlocker([table({ name: 'u', persistence: 'u' })])!;
    expect(unlogged.code).toMatch(/unlogged$/);
    expect(unlogged.message).toContain('public.u');
  });

  test('one key per chain: a lost key is a config error (78), another key or a new key needs a full backup', () => {
    const plain = manifest({});
    const enc = manifest({ encryption: { algorithm: 'aes-256-gcm-chunked-v1', keyFingerprint: 'aaaa', chunkSize: 1 } });
    expect(chainKeyBlocker(plain, null)).toBeNull();
    expect(chainKeyBlocker(enc, 'aaaa')).toBeNull();
    const missing = chainKeyBlocker(enc, null);
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing!.exitCode).toBe(ExitCode.CONFIG);
    expect(missing!.hint).toContain('aaaa');
    expect(chainKeyBlocker(enc, 'bbbb')).toBeInstanceOf(IncrementalNeedsFull);
    expect(chainKeyBlocker(plain, 'bbbb')).toBeInstanceOf(IncrementalNeedsFull);
  });

  test('a wal2json slot needs a new full backup; a SQL_ASCII database cannot be decoded exactly', () => {
    expect(decodingBlocker(slot(), info)).toBeNull();
    const old = decodingBlocker(slot({ plugin: 'wal2json' }), info);
    expect(old).toBeInstanceOf(IncrementalNeedsFull);
    expect(old!.code).toBe('backup.needs_full');
    const ascii = decodingBlocker(slot(), { ...info, encoding: 'SQL_ASCII' });
    expect(ascii).toBeInstanceOf(PrerequisiteError);
    expect(ascii!.code).toMatch(/encoding$/);
  });
});

describe('incremental: where it resumes', () => {
  const root = manifest({ id: 'f1', snapshot: { name: 'snap', lsn: '0/200' } });
  test("from the parent's end, or the full backup's snapshot when the parent is the full backup", () => {
    const inc = manifest({ id: 'i1', lsn: { start: '0/200', end: '0/300' } });
    expect(resumePoint(root, inc, slot({ confirmedFlushLsn: '0/300' }))).toEqual({ lastEnd: '0/300', advance: false });
    expect(resumePoint(root, root, slot({ confirmedFlushLsn: '0/200' }))).toEqual({ lastEnd: '0/200', advance: false });
  });
  test('a slot behind the parent (crash between publish and advance) is advanced; LSNs compare as numbers', () => {
    const inc = manifest({ id: 'i1', lsn: { start: '0/200', end: '1/0' } });
    expect(resumePoint(root, inc, slot({ confirmedFlushLsn: '0/FFFFFFFF' }))).toEqual({ lastEnd: '1/0', advance: true });
    expect(resumePoint(root, inc, slot({ confirmedFlushLsn: null }))).toEqual({ lastEnd: '1/0', advance: false });
  });
  test('a slot past the parent is a gap; a parent with no LSN cannot be continued', () => {
    const inc = manifest({ id: 'i1', lsn: { start: '0/200', end: '0/300' } });
    expect(() => resumePoint(root, inc, slot({ confirmedFlushLsn: '0/301' }))).toThrow(expect.objectContaining({ code: expect.stringMatching(/chain_gap$/) }) as unknown as Error);
    const bare = manifest({ id: 'f0', snapshot: { name: 'snap', lsn: null } });
    expect(() => resumePoint(bare, bare, slot())).toThrow(expect.objectContaining({ code: expect.stringMatching(/no_lsn$/) }) as unknown as Error);
  });
});

describe('incremental: change accounting and manifest', () => {
  const delta: CaptureResult['delta'] = new Map([
    ['public.a', { truncated: false, delta: 5 }],
    ['public.b', { truncated: true, delta: 2 }],
    ['public.c', { truncated: false, delta: -3 }],
  ]);
  test('rows after the changes: inserts minus deletes, a TRUNCATE restarts at 0, untouched tables keep their count; no chunks', () => {
    const out = tablesAfterChanges([tableEntry('a', 10), tableEntry('b', 100), tableEntry('c', 3), tableEntry('d', 7)], delta);
    expect(out.map((t) => [t.name, t.rows])).toEqual([['a', 15], ['b', 2], ['c', 0], ['d', 7]]);
    expect(out.every((t) => t.chunks.length === 0)).toBe(true);
  });

  test('the manifest links the chain, records the LSN range, commit times, the change file and the totals', () => {
    const root = manifest({ id: 'f1', chainRoot: 'f1', slot: { name: 'axisor_s', plugin: 'pgoutput' } });
    const parent = manifest({ id: 'i1', type: 'incremental', parent: 'f1', chainRoot: 'f1', tables: [tableEntry('a', 10), tableEntry('b', 100)] });
    const start: IncrementalStart = { root, parent, slotName: 'axisor_s', fingerprint: 'fp2', lastEnd: '0/300' };
    const stats = { transactions: 2, inserts: 7, updates: 1, deletes: 0, truncates: 1 };
    const captured: IncrementalCapture = {
      file: 'changes.pgo.zst', written: { bytes: 40, sha256: 'abc', rawBytes: 90 }, gaps: [], sequences: [],
      cap: { stats, delta, firstCommitUs: 0n, end: { lsn: 0x1_0000_0010n, commitUs: 1_000_000n }, foreign: [], needsFull: null },
    };
    const ctx = { id: 'i2', opts: { toolVersion: '9.9.9', encryptionKey: null }, compressorVersion: 'zstd 1.5', codec: { name: 'zstd' }, startedAt: new Date('2000-01-01T00:00:00Z') } as unknown as RunContext;
    const m = incrementalManifest(ctx, info, start, captured, new Date('2000-01-01T00:00:02.5Z'));
    expect(m).toMatchObject({
      id: 'i2', type: 'incremental', parent: 'i1', chainRoot: 'f1', slot: root.slot, snapshot: null, lsn: { start: '0/300', end: '1/10' },
      consistentAt: '2000-01-01T00:00:01.000000Z', commitTimes: { first: '2000-01-01T00:00:00.000000Z', last: '2000-01-01T00:00:01.000000Z' },
      schemaFingerprint: 'fp2', files: [{ path: 'changes.pgo.zst', bytes: 40, sha256: 'abc' }], changes: stats, changeFormat: 'pgoutput-1',
      totals: { bytes: 40, rawBytes: 90, rows: 17 }, durationMs: 2500, compression: 'zstd', tools: { axisorDb: '9.9.9', pgDump: root.tools.pgDump, compressor: 'zstd 1.5' },
    });
    expect(m).not.toHaveProperty('replayGaps');
    expect(m).not.toHaveProperty('encryption');
    const gaps = [{ table: 'public.eph', from: 'a', to: 'b' }];
    expect(incrementalManifest(ctx, info, start, { ...captured, gaps, cap: { ...captured.cap, firstCommitUs: null } }, new Date()))
      .toMatchObject({ replayGaps: gaps, commitTimes: { first: null } });
  });
});
