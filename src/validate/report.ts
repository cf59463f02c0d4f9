import { ExitCode } from '../errors.ts';
import type { Severity } from './checks.ts';
import type { SkippedRule } from './rules.ts';

export interface CheckResult {
  name: string;
  table: string;
  kind: 'relationship' | 'rule' | 'physical';
  severity: Severity;
  description: string;
  /** pass: no failing row; fail: failures > 0; error: the query itself failed (timeout, permission...). */
  status: 'pass' | 'fail' | 'error';
  /** Number of failing rows (null when the query failed). */
  failures: number | null;
  /** Up to --samples primary keys of failing rows (a value for one-column keys, an object for composite ones). */
  samples: unknown[];
  /** SQL that lists every failing row, key columns first. */
  sql: string;
  /** `axisor-db fix` can repair this check. */
  fixable: boolean;
  /** Time of the query that computed this check (shared by the checks of a grouped scan). */
  unitMs: number;
  error?: { code: string; sqlState?: string; message: string };
}

export interface ValidateReport {
  database: string;
  schema: string;
  /** The instant of the snapshot every check saw (transaction start). */
  snapshotAt: string;
  jobs: number;
  prismaSchema: string | null;
  checks: CheckResult[];
  /** Rules that could not run because the schema lacks a table or column they need. */
  skipped: SkippedRule[];
  /** schema.prisma relations whose tables do not exist in the database. */
  uncheckedRelations: string[];
  /** privilegeDenied: checks that could not run because the role may not read a table (part of failedToRun). */
  summary: { checks: number; passed: number; errors: number; warnings: number; failedToRun: number; privilegeDenied: number };
  durationMs: number;
}

export function summarize(checks: CheckResult[]): ValidateReport['summary'] {
  return {
    checks: checks.length,
    passed: checks.filter((c) => c.status === 'pass').length,
    errors: checks.filter((c) => c.status === 'fail' && c.severity === 'error').length,
    warnings: checks.filter((c) => c.status === 'fail' && c.severity === 'warn').length,
    failedToRun: checks.filter((c) => c.status === 'error').length,
    privilegeDenied: checks.filter((c) => c.status === 'error' && c.error?.code.startsWith('privilege.')).length,
  };
}

/**
 * 0 all pass, 1 warnings only, 2 errors found (Soda's scheme). A check that could not run makes the result
 * incomplete, which is a runtime failure (71), whatever the others found; 67 when every such check was refused a
 * privilege (the role may not read a table: each check's error names the GRANT).
 */
export function exitCodeFor(report: Pick<ValidateReport, 'summary'>): number {
  const s = report.summary;
  if (s.failedToRun > 0) return s.privilegeDenied === s.failedToRun ? ExitCode.PRIVILEGE : ExitCode.DATABASE;
  if (s.errors > 0) return ExitCode.CHECK_FAILED;
  if (s.warnings > 0) return ExitCode.WARNINGS;
  return ExitCode.OK;
}
