import { expect, test } from '@jest/globals';
import { ExitCode } from '../../src/errors.ts';
import { runCli } from '../helpers/cli.ts';
import type { LintResult } from '../helpers/results.ts';

test('migrate status --help documents the bitmap exit code; lint --help lists the rules and the ignore comment', async () => {
  const status = await runCli(['migrate', 'status', '--help']);
  expect(status.exitCode).toBe(0);
  for (const line of [/^\s+1\s+schema migrations pending/m, /^\s+2\s+data migrations pending/m, /^\s+4\s+a schema migration failed/m, /^\s+8\s+an applied migration/m]) {
    expect(status.stdout).toMatch(line);
  }
  const lint = await runCli(['migrate', 'lint', '--help']);
  expect(lint.stdout).toContain('axisor-lint-ignore');
  for (const rule of ['create-index-non-concurrent', 'add-column-not-null-no-default', 'alter-column-type', 'add-constraint-not-valid', 'drop-column', 'drop-table', 'rename-table', 'rename-column']) {
    expect(lint.stdout).toContain(rule);
  }
  const up = await runCli(['migrate', '--help']);
  for (const flag of ['--dry-run', '--allow-modified', '--lock-timeout', '--migrations-dir', '--batch-size']) expect(up.stdout).toContain(flag);
});

test('migrate lint FILE works offline and exits 2 on errors, 0 on safe files; a missing file is 66', async () => {
  const bad = await runCli<LintResult>(['migrate', 'lint', 'test/fixtures/lint/dangerous/drop-table.sql', 'test/fixtures/lint/dangerous/rename.sql', '--json']);
  expect(bad.exitCode).toBe(2);
  expect(bad.json.result.findings.map((f) => [f.file, f.line, f.rule])).toEqual([
    ['test/fixtures/lint/dangerous/drop-table.sql', 1, 'drop-table'],
    ['test/fixtures/lint/dangerous/rename.sql', 1, 'rename-table'],
    ['test/fixtures/lint/dangerous/rename.sql', 2, 'rename-column'],
  ]);
  const human = await runCli(['migrate', 'lint', 'test/fixtures/lint/dangerous/create-index.sql']);
  expect(human.exitCode).toBe(2);
  expect(human.stdout).toContain('create-index-non-concurrent');
  expect((await runCli(['migrate', 'lint', 'test/fixtures/lint/safe/new-table.sql'])).exitCode).toBe(0);
  expect((await runCli(['migrate', 'lint', 'test/fixtures/lint/dangerous/concurrent-mixed.sql'])).exitCode).toBe(1);
  expect((await runCli(['migrate', 'lint', 'no/such/file.sql'])).exitCode).toBe(ExitCode.NOT_FOUND);
});
