import { expect, test } from '@jest/globals';
import { ProgressTracker, formatDuration, formatProgress } from '../../src/render/progress.ts';
import { PassThrough, Writable } from 'node:stream';
import { renderStatus } from '../../src/render/migrate.ts';
import type { MigrateStatusResult } from '../../src/migrate/status.ts';
import type { CheckResult, ValidateReport } from '../../src/validate/report.ts';
import { renderValidate } from '../../src/render/validate.ts';
import { Output } from '../../src/render/output.ts';
import { renderTable } from '../../src/render/table.ts';

test('progress with a total shows percentage, throughput and ETA once the phase has run a second', () => {
  let now = 0;
  const t = new ProgressTracker(() => now);
  expect(t.format({ phase: 'dump', done: 0, total: 100 * 1024 * 1024, unit: 'bytes' })).toBe('dump 0 B / 100.0 MB (0%)');
  now = 2000;
  expect(t.format({ phase: 'dump', done: 20 * 1024 * 1024, total: 100 * 1024 * 1024, unit: 'bytes' }))
    .toBe('dump 20.0 MB / 100.0 MB (20%, 10.0 MB/s, ETA 8s)');
  // a new phase restarts the clock
  now = 3000;
  expect(t.format({ phase: 'restore', done: 5, total: 10, unit: 'tables', message: 'public.User' })).toBe('restore 5/10 tables (50%): public.User');
  now = 5000;
  expect(t.format({ phase: 'restore', done: 9, total: 10, unit: 'tables' })).toBe('restore 9/10 tables (90%, 2.0 tables/s, ETA 1s)');
});

test('progress without a total shows throughput only', () => {
  let now = 0;
  const t = new ProgressTracker(() => now);
  t.format({ phase: 'copy', done: 0, unit: 'rows' });
  now = 4000;
  expect(t.format({ phase: 'copy', done: 40_000, unit: 'rows' })).toBe('copy 40000 rows (10000 rows/s)');
  expect(formatProgress({ phase: 'prepare', message: 'dropping indexes' })).toBe('prepare: dropping indexes');
});

test('durations', () => {
  expect(formatDuration(59_400)).toBe('59s');
  expect(formatDuration(61_000)).toBe('1m01s');
  expect(formatDuration(3_600_000 * 2 + 60_000 * 5)).toBe('2h05m');
});

test('tables have a rule under the header and none between rows', () => {
  const text = renderTable(['a', 'b'], [['1', 'x'], ['2', 'y'], ['3', 'z']]);
  const lines = text.split('\n');
  expect(lines).toHaveLength(3 + 3 + 1); // top, head, rule, three rows, bottom
  expect(lines.filter((l) => /^[├┼─┤]+$/.test(l.replace(/[^├┼─┤]/g, '')) && l.includes('├'))).toHaveLength(1);
});

function output(isTTY: boolean) {
  const sink = new PassThrough();
  return new Output({ json: false, quiet: false, verbose: false, color: false, isTTY, stdout: sink, stderr: sink });
}

test('free text is cut with … on a terminal only', () => {
  const long = `SELECT ${'x, '.repeat(100)}y FROM t`;
  expect(output(true).clip(long, 60)).toHaveLength(60);
  expect(output(true).clip(long, 60).endsWith('…')).toBe(true);
  expect(output(false).clip(long, 60)).toBe(long.replace(/\s+/g, ' '));
  expect(output(false).clip('a\n  b', 60)).toBe('a b');
});

function capture() {
  let text = '';
  const sink = new Writable({ write(chunk, _e, cb) { text += String(chunk); cb(); } });
  const out = new Output({ json: false, quiet: false, verbose: false, color: false, isTTY: false, stdout: sink, stderr: new Writable({ write(_c, _e, cb) { cb(); } }) });
  return { out, text: () => text };
}

test('migrate status: a failed migration (finished_at NULL) shows no "finished at" time', () => {
  const r: MigrateStatusResult = {
    database: 'postgres://u@h:5432/db', schema: 'public', migrationsDir: '/m', historyTable: true, lockHolder: null,
    schemaMigrations: [
      { name: '20250101_init', state: 'applied', checksum: 'a', startedAt: '2025-01-01T00:00:00Z', finishedAt: '2025-01-01T00:00:01Z' },
      { name: '20250102_bad', state: 'failed', checksum: 'b', startedAt: '2025-01-02T09:00:00Z', finishedAt: null, logs: 'ERROR: boom' },
    ],
    dataMigrations: [],
    summary: { applied: 1, pending: 0, failed: 1, running: 0, modified: 0, missing: 0, dataApplied: 0, dataPending: 0, dataModified: 0 },
    bits: 4, flags: ['FAILED'],
  };
  const c = capture();
  renderStatus(r, c.out);
  const row = c.text().split('\n').find((l) => l.includes('20250102_bad') && l.includes('failed'))!;
  expect(row).toContain('not finished (started 2025-01-02T09:00:00Z)');
  expect(row).not.toMatch(/│ 2025-01-02T09:00:00Z/);
});

test('validate: the human status says FAIL where the JSON says fail, and error where it says error', () => {
  const check = (name: string, status: CheckResult['status'], severity: CheckResult['severity']): CheckResult => ({
    name, table: 'T', kind: 'rule', severity, description: '', status, failures: status === 'fail' ? 2 : null, samples: [], sql: 'SELECT 1', fixable: false, unitMs: 1,
    ...(status === 'error' ? { error: { code: 'database.57014', message: 'canceling statement due to statement timeout' } } : {}),
  });
  const r = {
    database: 'postgres://u@h/db', schema: 'public', snapshotAt: 'now', jobs: 1, prismaSchema: null,
    checks: [check('a', 'fail', 'error'), check('b', 'fail', 'warn'), check('c', 'error', 'error')], skipped: [], uncheckedRelations: [],
    summary: { checks: 3, passed: 0, errors: 1, warnings: 1, failedToRun: 1 }, durationMs: 1,
  } as unknown as ValidateReport;
  const c = capture();
  renderValidate(r, c.out);
  const rows = c.text().split('\n');
  expect(rows.find((l) => l.startsWith('│ a '))).toMatch(/│ FAIL\s+│/);
  expect(rows.find((l) => l.startsWith('│ b '))).toMatch(/│ FAIL\s+│/);
  expect(rows.find((l) => l.startsWith('│ c '))).toMatch(/│ error \(not run\)\s+│/);
  expect(c.text()).not.toMatch(/\bERROR\b/);
});
