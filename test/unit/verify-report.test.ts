import { describe, expect, test } from '@jest/globals';
import type { Manifest, TableEntry } from '../../src/archive/manifest.ts';
import { ROW_DIGEST_ALGORITHM } from '../../src/archive/row-digest.ts';
import { checksumsResult, comparedOf, contentBasis, settleVerdict, tableCheck, type TableCheck } from '../../src/restore/verify-report.ts';

const table = (name: string, rows: number, digests: Array<string | undefined>): TableEntry => ({
  schema: 'public', name, columns: ['id'], rows, objects: [], fkeys: [], ownedSequences: [], hasIdentity: true,
  chunks: digests.map((d, i) => ({ file: `${name}.${i}`, rows: 1, rawBytes: 1, ...(d === undefined ? {} : { rowDigest: d }) })),
});
const manifest = (over: Partial<Manifest>): Manifest => ({ id: 'f1', type: 'full', rowDigestAlgorithm: ROW_DIGEST_ALGORITHM, tables: [], ...over }) as Manifest;

describe('verify: what the drill can compare', () => {
  test('a digest for every chunk, recorded with the current algorithm; rows only in a backup with data', () => {
    expect(contentBasis(manifest({ tables: [table('a', 2, ['d1', 'd2']), table('empty', 0, [])] }))).toEqual({ withDigest: true, hasData: true });
    expect(contentBasis(manifest({ tables: [table('a', 2, ['d1', undefined])] }))).toEqual({ withDigest: false, hasData: true });
    expect(contentBasis(manifest({ rowDigestAlgorithm: undefined, tables: [table('a', 1, ['d1'])] }))).toEqual({ withDigest: false, hasData: true });
    expect(contentBasis(manifest({ type: 'schema-only', tables: [table('a', 0, [])] })).hasData).toBe(false);
    expect(contentBasis(manifest({ tables: [table('a', 0, [])] })).hasData).toBe(false);
  });
});

describe('verify: each table and the verdict', () => {
  test('a table passes when its row count matches and its content does not differ', () => {
    const t = { schema: 'public', name: 'a', rows: 3 };
    expect(tableCheck(t, 3, 'identical')).toEqual({ schema: 'public', name: 'a', expectedRows: 3, rows: 3, content: 'identical', contentMatches: true, ok: true });
    expect(tableCheck(t, 3, 'not-compared')).toMatchObject({ contentMatches: null, ok: true });
    expect(tableCheck(t, 3, 'differs')).toMatchObject({ contentMatches: false, ok: false });
    expect(tableCheck(t, 2, 'identical')).toMatchObject({ ok: false });
  });

  test('what was compared, counted from the checks, and the sentence that says so', () => {
    const checks: TableCheck[] = [tableCheck({ schema: 'public', name: 'a', rows: 1 }, 1, 'identical'), tableCheck({ schema: 'public', name: 'b', rows: 1 }, 1, 'not-compared')];
    const full = manifest({ id: 'f1', tables: [table('a', 1, ['d']), table('b', 0, [])] });
    const one = comparedOf(checks, [full], { withDigest: true, hasData: true });
    expect(one).toMatchObject({ rowCounts: 2, content: 1, method: ROW_DIGEST_ALGORITHM, contentAsOf: 'f1' });
    expect(one.summary).toBe('row counts of 2/2 tables; content of 1/2 tables (order-independent row digest of the COPY rows, recorded at backup time)');
    const chain = [full, manifest({ id: 'i1', type: 'incremental', tables: full.tables }), manifest({ id: 'i2', type: 'incremental', tables: full.tables })];
    const replayed = comparedOf(checks, chain, { withDigest: false, hasData: true });
    expect(replayed.method).toMatch(/^rowsum64-v1 \(recomputed/);
    expect(replayed.summary).toContain('after replaying 2 incremental backup(s)');
    expect(replayed.summary).toContain('recomputed from the backup files');
    expect(replayed.summary).toContain('as of the full backup f1 (before replay');
    const noData = comparedOf(checks, [full], { withDigest: false, hasData: false });
    expect(noData).toMatchObject({ method: null, contentAsOf: null });
    expect(noData.summary).toBe('row counts of 2/2 tables; content NOT compared (this backup records no content digest)');
    expect(comparedOf([], [manifest({ type: 'schema-only' })], { withDigest: false, hasData: false }).summary).toMatch(/^schema-only backup/);
  });

  test('checksums alone decide without the drill; with it, both must pass', () => {
    const sums = (ok: boolean) => ({ ok, files: 2, bytes: 10, bad: ok ? [] : [{ backup: 'f1', path: 'x', problem: 'sha256 mismatch' }] });
    const noDrill = checksumsResult('f1', ['f1'], sums(true));
    settleVerdict(noDrill, false);
    expect([noDrill.ok, noDrill.drill.ok, noDrill.drill.ran]).toEqual([true, true, false]);
    const badSums = checksumsResult('f1', ['f1'], sums(false));
    settleVerdict(badSums, true);
    expect([badSums.ok, badSums.drill.ok]).toEqual([false, false]);
    const asked = checksumsResult('f1', ['f1'], sums(true));
    asked.drill.ran = true;
    asked.drill.ok = false;
    settleVerdict(asked, true);
    expect([asked.ok, asked.drill.ok]).toEqual([false, false]);
    asked.drill.ok = true;
    settleVerdict(asked, true);
    expect(asked.ok).toBe(true);
  });
});
