import { ExitCode } from '../errors.ts';

/** Nagios-style: ok and info never change the exit code; warning → 1; critical → 2. */
export type Severity = 'ok' | 'info' | 'warning' | 'critical';

export interface Finding {
  /** Stable check name, e.g. 'unused_index', 'idle_in_transaction'. */
  check: string;
  severity: Severity;
  message: string;
  /** The object concerned, e.g. "public"."TradeLog" or a pid. */
  object?: string;
  value?: number | string | null;
  threshold?: number | string | null;
}

const RANK: Record<Severity, number> = { ok: 0, info: 1, warning: 2, critical: 3 };

export function worstSeverity(findings: readonly Finding[]): Severity {
  let worst: Severity = 'ok';
  for (const f of findings) if (RANK[f.severity] > RANK[worst]) worst = f.severity;
  return worst;
}

/** 0 when nothing is worse than info, 1 with warnings, 2 with a critical finding (debug-pool, debug-perf). */
export function exitCodeFor(result: { readonly findings: readonly Finding[] }): number {
  const worst = worstSeverity(result.findings);
  if (worst === 'critical') return ExitCode.CHECK_FAILED;
  if (worst === 'warning') return ExitCode.WARNINGS;
  return ExitCode.OK;
}

export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { ok: 0, info: 0, warning: 0, critical: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** Orders worst first, keeping the original order inside one severity. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return findings.map((f, i) => [f, i] as const).sort((a, b) => RANK[b[0].severity] - RANK[a[0].severity] || a[1] - b[1]).map(([f]) => f);
}
