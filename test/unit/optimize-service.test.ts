import { describe, expect, test } from '@jest/globals';
import type { Finding } from '../../src/diagnostics/findings.ts';
import { chooseMethod, withoutRebuiltInvalid, type OptimizeResult } from '../../src/optimize/optimize.ts';

describe('chooseMethod', () => {
  test('HypoPG when asked for and created in this database', () => {
    expect(chooseMethod(true, { installed: true, available: true })).toEqual({ method: 'hypopg', note: null });
  });
  test('otherwise the heuristic, and the note names the reason and the fix', () => {
    expect(chooseMethod(false, { installed: true, available: true })).toEqual({ method: 'heuristic', note: 'HypoPG disabled by --no-hypopg' });
    expect(chooseMethod(true, { installed: false, available: true }).note).toMatch(/not created in this database: CREATE EXTENSION hypopg/);
    expect(chooseMethod(true, { installed: false, available: false }).note).toMatch(/not installed on the server \(Debian: apt-get install postgresql-15-hypopg/);
  });
});

describe('withoutRebuiltInvalid', () => {
  const invalid = (object: string): Finding => ({ check: 'invalid_index', severity: 'warning', object, message: '' });
  const applied = (index: string, status: string, droppedInvalid: boolean) => ({ index, status, droppedInvalid } as unknown as NonNullable<OptimizeResult['applied']>[number]);
  test('an INVALID index that --apply dropped and rebuilt is no longer reported; others stay', () => {
    const findings = [invalid('"public"."a_idx"'), invalid('"public"."b_idx"'), { check: 'unused_index', severity: 'info', object: '"public"."a_idx"', message: '' } as Finding];
    expect(withoutRebuiltInvalid(findings, [applied('"public"."a_idx"', 'created', true), applied('"public"."b_idx"', 'failed', true)]))
      .toEqual([findings[1], findings[2]]);
  });
  test('without --apply nothing is removed', () => {
    const findings = [invalid('"public"."a_idx"')];
    expect(withoutRebuiltInvalid(findings, null)).toEqual(findings);
  });
});
