import { describe, expect, test } from '@jest/globals';
import { estimateBloat, type BloatInput } from '../../src/diagnostics/bloat.ts';
import { exitCodeFor } from '../../src/diagnostics/findings.ts';
import { findForeignKeysWithoutIndex, findRedundantIndexes, findUnusedIndexes, type IndexInfo } from '../../src/diagnostics/indexes.ts';
import { blockingChains } from '../../src/diagnostics/pool.ts';
import { staleStatistics, vacuumDue, type AutovacuumSettings, type TableMaintenance } from '../../src/diagnostics/vacuum.ts';

const idx = (name: string, attnums: number[], extra: Partial<IndexInfo> = {}): IndexInfo => ({
  schema: 'public', table: 't', name, method: 'btree', unique: false, primary: false, constraint: false, valid: true,
  columns: attnums.map((a) => `c${a}`), attnums, opclasses: attnums.map(() => '1978'), options: attnums.map(() => '0'),
  expressions: null, predicate: null, definition: '', bytes: 8192, scans: 1, building: false, ...extra,
});

describe('findings', () => {
  test('exit code is Nagios-style: info → 0, warning → 1, critical → 2', () => {
    expect(exitCodeFor({ findings: [] })).toBe(0);
    expect(exitCodeFor({ findings: [{ check: 'x', severity: 'info', message: '' }] })).toBe(0);
    expect(exitCodeFor({ findings: [{ check: 'x', severity: 'info', message: '' }, { check: 'y', severity: 'warning', message: '' }] })).toBe(1);
    expect(exitCodeFor({ findings: [{ check: 'y', severity: 'warning', message: '' }, { check: 'z', severity: 'critical', message: '' }] })).toBe(2);
  });
});

describe('index checks', () => {
  test('an exact duplicate is reported once, as a duplicate, even when a wider index also covers it', () => {
    const r = findRedundantIndexes([idx('a1', [1]), idx('a2', [1]), idx('ab', [1, 2])]);
    expect(r.map((x) => [x.index.name, x.kind, x.coveredBy.name])).toEqual([['a1', 'covered', 'ab'], ['a2', 'duplicate', 'a1']]);
  });

  test('direction, opclass, predicate and constraint-backed indexes are not redundant', () => {
    expect(findRedundantIndexes([idx('a_desc', [1], { options: ['3'] }), idx('ab', [1, 2])])).toEqual([]);
    expect(findRedundantIndexes([idx('a_part', [1], { predicate: '(c2 > 0)' }), idx('ab', [1, 2])])).toEqual([]);
    expect(findRedundantIndexes([idx('a_uniq', [1], { unique: true, constraint: true }), idx('ab', [1, 2])])).toEqual([]);
    expect(findRedundantIndexes([idx('a_pattern', [1], { opclasses: ['10047'] }), idx('ab', [1, 2])])).toEqual([]);
  });

  test('unused skips unique, primary and constraint indexes', () => {
    const u = findUnusedIndexes([idx('used', [1]), idx('unused', [2], { scans: 0 }), idx('pk', [3], { scans: 0, primary: true, unique: true }), idx('uq', [4], { scans: 0, unique: true })]);
    expect(u.map((i) => i.name)).toEqual(['unused']);
  });

  test('an FK is supported only by an index whose LEADING columns are the FK columns', () => {
    const fk = (attnums: number[]) => ({ schema: 'public', table: 't', name: 'fk', columns: [], attnums, referencedTable: 'u', tableRows: 0 });
    expect(findForeignKeysWithoutIndex([fk([2])], [idx('ab', [1, 2])])).toHaveLength(1);
    expect(findForeignKeysWithoutIndex([fk([2])], [idx('ba', [2, 1])])).toHaveLength(0);
    expect(findForeignKeysWithoutIndex([fk([2, 1])], [idx('abc', [1, 2, 3])])).toHaveLength(0);
    expect(findForeignKeysWithoutIndex([fk([2])], [idx('b_partial', [2], { predicate: 'x' })])).toHaveLength(1);
  });
});

const settings: AutovacuumSettings = { vacuumThreshold: 50, vacuumScaleFactor: 0.2, analyzeThreshold: 50, analyzeScaleFactor: 0.1, autovacuum: true };
const table = (extra: Partial<TableMaintenance>): TableMaintenance => ({
  schema: 'public', table: 't', reltuples: 1000, liveTuples: 1000, deadTuples: 0, modsSinceAnalyze: 0, lastVacuum: null, lastAnalyze: '2026-01-01T00:00:00Z', reloptions: {}, ...extra,
});

describe('vacuum and statistics', () => {
  test('vacuum due honours the table reloptions over the server settings', () => {
    expect(vacuumDue(table({ deadTuples: 200 }), settings)).toBeNull(); // 50 + 0.2 × 1000 = 250
    const due = vacuumDue(table({ deadTuples: 200, reloptions: { autovacuum_vacuum_scale_factor: '0.01', autovacuum_vacuum_threshold: '10' } }), settings);
    expect(due?.threshold).toBe(20);
    expect(vacuumDue(table({ deadTuples: 300, reloptions: { autovacuum_enabled: 'false' } }), settings)?.autovacuumEnabled).toBe(false);
  });

  test('stale statistics: never analysed with rows, or changes past the analyze threshold', () => {
    expect(staleStatistics(table({ lastAnalyze: null }), settings)?.reason).toBe('never_analyzed');
    expect(staleStatistics(table({ lastAnalyze: null, liveTuples: 0, modsSinceAnalyze: 0 }), settings)).toBeNull();
    expect(staleStatistics(table({ modsSinceAnalyze: 149 }), settings)).toBeNull(); // 50 + 0.1 × 1000 = 150
    expect(staleStatistics(table({ modsSinceAnalyze: 151 }), settings)?.reason).toBe('modified_since_analyze');
  });
});

describe('bloat estimate', () => {
  const base: BloatInput = { schema: 'public', table: 't', relpages: 1000, reltuples: 10_000, blockSize: 8192, fillfactor: 100, columns: 2, columnsWithStats: 2, dataWidth: 16, hasNulls: false, modsSinceAnalyze: 0, lastAnalyze: '2026-01-01T00:00:00Z' };

  test('is withheld when statistics are missing, incomplete or stale', () => {
    expect(estimateBloat({ ...base, lastAnalyze: null }).withheld).toBe('no_statistics');
    expect(estimateBloat({ ...base, columnsWithStats: 1 }).withheld).toBe('incomplete_statistics');
    expect(estimateBloat({ ...base, modsSinceAnalyze: 5000 }).withheld).toBe('stale_statistics');
    expect(estimateBloat({ ...base, relpages: 3 }).withheld).toBe('too_small');
  });

  test('estimates the wasted pages from the expected tuple size', () => {
    // 4 + align(23) + align(16) = 44 bytes; (8192 - 24) / 44 = 185 tuples/page; 10 000 rows → 55 pages.
    const e = estimateBloat(base);
    expect(e.withheld).toBeNull();
    expect(e.wastedBytes).toBe((1000 - 55) * 8192);
    expect(e.ratio).toBeCloseTo(0.945, 3);
  });
});

describe('blocking chains', () => {
  test('roots are blockers that wait for nobody; chains include transitive waiters', () => {
    const rows = [{ pid: 10, blockedBy: [] }, { pid: 11, blockedBy: [10] }, { pid: 12, blockedBy: [11] }, { pid: 20, blockedBy: [30] }];
    expect(blockingChains(rows)).toEqual([{ root: 10, blocked: [11, 12] }, { root: 30, blocked: [20] }]);
  });
});
