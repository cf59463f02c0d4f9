import { expect, test } from '@jest/globals';
import { ProgressTracker, formatDuration, formatProgress } from '../../src/render/progress.ts';
import { PassThrough } from 'node:stream';
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
