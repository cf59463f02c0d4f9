import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { lintExitCode, lintSources } from '../../src/migrate/lint/index.ts';

const DIR = join(import.meta.dirname, '../fixtures/lint');
const load = (kind: string, name: string) => ({ file: `${kind}/${name}`, sql: readFileSync(join(DIR, kind, name), 'utf8') });

// Each dangerous fixture and the rule(s) it must raise, at the statement's line.
const EXPECTED: Record<string, Array<[string, number]>> = {
  'create-index.sql': [['create-index-non-concurrent', 1]],
  'add-column-not-null.sql': [['add-column-not-null-no-default', 1]],
  'alter-column-type.sql': [['alter-column-type', 1]],
  'add-constraint.sql': [['add-constraint-not-valid', 1], ['add-constraint-not-valid', 2]],
  'drop-column.sql': [['drop-column', 1]],
  'drop-table.sql': [['drop-table', 1]],
  'rename.sql': [['rename-table', 1], ['rename-column', 2]],
  'set-not-null.sql': [['set-not-null', 1]],
  'concurrent-mixed.sql': [['concurrent-index-mixed', 2]],
  'concurrent-in-transaction.sql': [['concurrent-in-transaction', 2]],
};

describe('migrate lint: dangerous patterns', () => {
  test('every dangerous fixture has an expectation', () => {
    expect(readdirSync(join(DIR, 'dangerous')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });
  for (const [name, rules] of Object.entries(EXPECTED)) {
    test(name, async () => {
      const r = await lintSources([load('dangerous', name)]);
      expect(r.findings.map((f) => [f.rule, f.line])).toEqual(rules);
      for (const f of r.findings) {
        expect(f.file).toBe(`dangerous/${name}`);
        expect(f.suggestion.length).toBeGreaterThan(10);
      }
    });
  }
  test('the suggestion for a plain CREATE INDEX is its CONCURRENTLY form', async () => {
    const r = await lintSources([load('dangerous', 'create-index.sql')]);
    expect(r.findings[0]!.suggestion).toContain('CREATE INDEX CONCURRENTLY IF NOT EXISTS "User_email_lower_idx" ON "User" (lower(email))');
  });
  test('exit code: 2 with errors, 1 with warnings only, 0 clean', async () => {
    expect(lintExitCode(await lintSources([load('dangerous', 'drop-table.sql')]))).toBe(2);
    expect(lintExitCode(await lintSources([load('dangerous', 'concurrent-mixed.sql')]))).toBe(1);
    expect(lintExitCode(await lintSources([load('safe', 'new-table.sql')]))).toBe(0);
  });
});

describe('migrate lint: safe variants pass', () => {
  for (const name of readdirSync(join(DIR, 'safe'))) {
    test(name, async () => {
      const r = await lintSources([load('safe', name)]);
      expect(r.findings).toEqual([]);
      expect(r.statements).toBeGreaterThan(0);
    });
  }
  test('ignore comments silence only the named rule of the next statement', async () => {
    const r = await lintSources([load('safe', 'ignored.sql')]);
    expect(r.ignored).toBe(2);
    const other = await lintSources([{ file: 'x.sql', sql: '-- axisor-lint-ignore: drop-table\nALTER TABLE "User" DROP COLUMN "phone";\nALTER TABLE "User" DROP COLUMN "avatar_url";' }]);
    expect(other.findings.map((f) => [f.rule, f.line])).toEqual([['drop-column', 2], ['drop-column', 3]]);
  });
  test('a table created by an earlier file of the same run is new; with a catalog, an absent table is new', async () => {
    const create = { file: 'a.sql', sql: 'CREATE TABLE "Fresh" (id int, v text);' };
    const index = { file: 'b.sql', sql: 'CREATE INDEX "Fresh_v_idx" ON "Fresh" (v);' };
    expect((await lintSources([create, index])).findings).toEqual([]);
    expect((await lintSources([index])).findings.map((f) => f.rule)).toEqual(['create-index-non-concurrent']);
    expect((await lintSources([index], { existingTables: new Set(['User']) })).findings).toEqual([]);
    expect((await lintSources([index], { existingTables: new Set(['Fresh']) })).findings).toHaveLength(1);
  });
  test('unparseable SQL is an error finding with its line, not a crash', async () => {
    const r = await lintSources([{ file: 'bad.sql', sql: 'SELECT 1;\nCREAT TABLE x (id int);' }]);
    expect(r.findings.map((f) => [f.rule, f.line])).toEqual([['parse-error', 2]]);
  });
});
