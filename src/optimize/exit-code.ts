import { exitCodeFor as findingsExitCode } from '../diagnostics/findings.ts';
import { ExitCode } from '../errors.ts';
import type { OptimizeResult } from './optimize.ts';

/**
 * 0 nothing to do, 1 suggestions or warnings, 2 critical (e.g. an --apply build failed); 67 when --apply was
 * refused for lack of ownership (a missing privilege, with the advice still in the result).
 */
export function exitCodeFor(result: Pick<OptimizeResult, 'applied' | 'findings'>): number {
  const refused = (result.applied ?? []).some((a) => a.status === 'failed' && a.sqlState === '42501');
  return refused ? ExitCode.PRIVILEGE : findingsExitCode(result);
}
