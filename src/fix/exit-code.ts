import { ExitCode } from '../errors.ts';
import type { FixReport } from './service.ts';

/**
 * 0, or 2 when an applied run's verification left a fixed check failing: rows failing again (changed while the
 * run committed: `remaining` > 0) or a check that could not be re-run (`remaining` unset). A dry run is 0.
 */
export function exitCodeFor(report: Pick<FixReport, 'mode' | 'checks'>): number {
  return report.mode === 'apply' && report.checks.some((c) => c.remaining !== 0) ? ExitCode.CHECK_FAILED : ExitCode.OK;
}
