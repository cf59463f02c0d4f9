/**
 * The result types of the --json documents the tests read (runCli<R>, cli<R>): the services' own types, and the
 * few results a command builds inline.
 */
import type { HealthResult } from '../../src/backup-health/check.ts';
import type { FixRun } from '../../src/fix/audit.ts';
import type { Check } from '../../src/validate/checks.ts';
import type { CheckSet } from '../../src/validate/service.ts';

export type { BackupResult } from '../../src/backup/types.ts';
export type { Manifest } from '../../src/archive/manifest.ts';
export type { PruneResult } from '../../src/backup/prune.ts';
export type { StatusResult } from '../../src/backup/status.ts';
export type { VerifyResult } from '../../src/restore/verify.ts';
export type { ListResult } from '../../src/render/backup.ts';
export type { RestoreResult } from '../../src/restore/service.ts';
export type { ValidateReport } from '../../src/validate/report.ts';
export type { FixReport } from '../../src/fix/service.ts';
export type { UndoOutcome } from '../../src/fix/undo.ts';
export type { MigrateUpResult } from '../../src/migrate/runner.ts';
export type { MigrateStatusResult } from '../../src/migrate/status.ts';
export type { ResolveResult } from '../../src/migrate/resolve.ts';
export type { LintResult } from '../../src/migrate/lint/types.ts';
export type { OptimizeResult } from '../../src/optimize/optimize.ts';
export type { DebugPerfResult } from '../../src/diagnostics/perf.ts';
export type { DebugPoolResult } from '../../src/diagnostics/pool.ts';
export type { SeedResult } from '../../src/seed/service.ts';
export type { DemoResult } from '../../src/demo/run.ts';
export type { RolesResult } from '../../src/roles/sql.ts';

/** `backup status --check` / `--format openmetrics` (commands/backup.ts). */
export type HealthCheckResult = HealthResult & { nagios: string; metricsFile: string | null };

/** `validate --list` (commands/validate.ts). */
export interface ValidateListResult {
  checks: Array<Pick<Check, 'name' | 'table' | 'kind' | 'severity' | 'description' | 'sql'> & { fixable: boolean }>;
  skipped: CheckSet['skipped'];
  uncheckedRelations: CheckSet['uncheckedRelations'];
}

/** `fix --history` (commands/fix.ts). */
export interface FixHistoryResult {
  runs: FixRun[];
}
