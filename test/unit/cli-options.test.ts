import { describe, expect, test } from '@jest/globals';
import { DEFAULT_JOBS, durationFlag, intFlag, numberFlag } from '../../src/cli/options.ts';
import { ExitCode, UsageError } from '../../src/errors.ts';

/** The error a parser throws (or a failed expectation when it throws nothing). */
function thrown(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError, nothing was thrown');
}

describe('the one flag parser: every bad value is a UsageError (64) naming the flag, with an example', () => {
  test('intFlag: range, absent flag, fallback', () => {
    expect(intFlag('8', '--jobs', { max: 64 })).toBe(8);
    expect(intFlag(' 0 ', '--keep-last', { min: 0 })).toBe(0);
    expect(intFlag(undefined, '--seed', { min: 0 })).toBeUndefined();
    expect(intFlag(undefined, '--jobs', { max: 64 }, DEFAULT_JOBS)).toBe(DEFAULT_JOBS);
    for (const [value, range] of [['0', {}], ['65', { max: 64 }], ['-1', { min: 0 }], ['1.5', {}], ['ten', {}], ['', {}], ['0x10', {}]] as const) {
      const err = thrown(() => intFlag(value, '--jobs', range));
      expect({ value, exitCode: err.exitCode, code: err.code }).toEqual({ value, exitCode: ExitCode.USAGE, code: 'usage.integer' });
      expect(err.message).toContain('--jobs');
      expect(err.hint).toMatch(/^e\.g\. --jobs \d+$/);
    }
  });

  test('numberFlag: bounds inclusive or exclusive', () => {
    expect(numberFlag('99.9', '--min-improvement', { min: 0, exclusive: true, max: 100, example: '50' })).toBe(99.9);
    expect(numberFlag('0', '--min-cost', { min: 0, example: '100' })).toBe(0);
    for (const value of ['0', '100', '-3', 'half', '', ' ']) {
      const err = thrown(() => numberFlag(value, '--min-improvement', { min: 0, exclusive: true, max: 100, example: '50' }));
      expect({ value, exitCode: err.exitCode, code: err.code }).toEqual({ value, exitCode: ExitCode.USAGE, code: 'usage.number' });
      expect(err.message).toContain('--min-improvement');
      expect(err.hint).toBe('e.g. --min-improvement 50');
    }
    expect(thrown(() => numberFlag('-1', '--min-cost', { min: 0, example: '100' })).code).toBe('usage.number');
  });

  test('durationFlag: units; a bare number is seconds, or milliseconds where the flag says so', () => {
    expect(durationFlag('30s', '--long-query')).toBe(30_000);
    expect(durationFlag('2', '--long-query')).toBe(2000);
    expect(durationFlag('2', '--slow-ms', { bareNumber: 'ms' })).toBe(2);
    expect(durationFlag('0.5', '--slow-ms', { bareNumber: 'ms' })).toBe(0.5);
    expect(durationFlag('1s', '--slow-ms', { bareNumber: 'ms' })).toBe(1000);
    const err = thrown(() => durationFlag('soon', '--slow-ms', { bareNumber: 'ms' }));
    expect({ exitCode: err.exitCode, code: err.code }).toEqual({ exitCode: ExitCode.USAGE, code: 'usage.duration' });
    expect(err.hint).toContain('a bare number means milliseconds');
    expect(thrown(() => durationFlag('soon', '--long-query')).hint).toContain('a bare number means seconds');
  });
});
