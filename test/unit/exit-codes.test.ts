import { describe, expect, test } from '@jest/globals';
import { exitCodeFor as demoExitCode } from '../../src/demo/run.ts';
import { ExitCode } from '../../src/errors.ts';
import { exitCodeFor as fixExitCode } from '../../src/fix/exit-code.ts';
import type { FixCheckReport } from '../../src/fix/service.ts';
import { exitCodeFor as migrateStatusExitCode, STATUS_BITS } from '../../src/migrate/status.ts';
import { exitCodeFor as optimizeExitCode } from '../../src/optimize/exit-code.ts';
import type { OptimizeResult } from '../../src/optimize/optimize.ts';
import { exitCodeFor as validateExitCode } from '../../src/validate/report.ts';
import type { ValidateReport } from '../../src/validate/report.ts';

// Each command computes its exit code from the service's result with these pure functions (docs/architecture.md, 2).

describe('validate', () => {
  const summary = (s: Partial<ValidateReport['summary']>) => ({ summary: { checks: 3, passed: 3, errors: 0, warnings: 0, failedToRun: 0, privilegeDenied: 0, ...s } as ValidateReport['summary'] });
  test.each([
    [{}, ExitCode.OK],
    [{ warnings: 1 }, ExitCode.WARNINGS],
    [{ warnings: 1, errors: 1 }, ExitCode.CHECK_FAILED],
    [{ errors: 1, failedToRun: 1 }, ExitCode.DATABASE],
    [{ failedToRun: 2, privilegeDenied: 2 }, ExitCode.PRIVILEGE],
    [{ failedToRun: 2, privilegeDenied: 1 }, ExitCode.DATABASE],
  ])('%j -> %i', (s, code) => expect(validateExitCode(summary(s))).toBe(code));
});

describe('fix', () => {
  const check = (remaining?: number): FixCheckReport => ({ name: 'c', table: 't', action: 'delete', found: 1, samples: [], changes: [], ...(remaining === undefined ? {} : { remaining }) });
  test('a dry run is 0 whatever it found', () => {
    expect(fixExitCode({ mode: 'dry-run', checks: [check(), check()] })).toBe(ExitCode.OK);
  });
  test('an applied run whose fixed checks all pass again is 0 (also when there was nothing to fix)', () => {
    expect(fixExitCode({ mode: 'apply', checks: [check(0), check(0)] })).toBe(ExitCode.OK);
    expect(fixExitCode({ mode: 'apply', checks: [] })).toBe(ExitCode.OK);
  });
  test('rows failing again, or a check that could not be re-run, is 2', () => {
    expect(fixExitCode({ mode: 'apply', checks: [check(0), check(3)] })).toBe(ExitCode.CHECK_FAILED);
    expect(fixExitCode({ mode: 'apply', checks: [check(0), check()] })).toBe(ExitCode.CHECK_FAILED);
  });
});

describe('optimize', () => {
  const applied = (status: string, sqlState?: string) => ({ status, sqlState } as unknown as NonNullable<OptimizeResult['applied']>[number]);
  test('findings decide (0 / 1 / 2) unless --apply was refused a privilege (67)', () => {
    expect(optimizeExitCode({ applied: null, findings: [] })).toBe(ExitCode.OK);
    expect(optimizeExitCode({ applied: null, findings: [{ check: 'missing_index', severity: 'warning', message: '' }] })).toBe(ExitCode.WARNINGS);
    expect(optimizeExitCode({ applied: [applied('failed', '42P07')], findings: [{ check: 'missing_index', severity: 'critical', message: '' }] })).toBe(ExitCode.CHECK_FAILED);
    expect(optimizeExitCode({ applied: [applied('created'), applied('failed', '42501')], findings: [{ check: 'missing_index', severity: 'critical', message: '' }] })).toBe(ExitCode.PRIVILEGE);
  });
});

describe('migrate status and demo', () => {
  test('migrate status exits with its bits', () => {
    expect(migrateStatusExitCode({ bits: 0 })).toBe(0);
    expect(migrateStatusExitCode({ bits: STATUS_BITS.PENDING_SCHEMA | STATUS_BITS.FAILED })).toBe(STATUS_BITS.PENDING_SCHEMA + STATUS_BITS.FAILED);
  });
  test('demo: 0 when every step passed (skipped ones included), else 2', () => {
    expect(demoExitCode({ ok: true })).toBe(ExitCode.OK);
    expect(demoExitCode({ ok: false })).toBe(ExitCode.CHECK_FAILED);
  });
});
