import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { durationFlag } from '../src/cli/options.ts';

interface Opts {
  longQuery: string;
  idleInTransaction: string;
  poolMax?: string;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .description('connections by state and application, long queries, idle-in-transaction sessions, blocking chains (read-only)')
    .option('--long-query <duration>', 'flag active queries running longer than this (warning; critical at 5x)', '60s')
    .option('--idle-in-transaction <duration>', 'flag sessions idle in a transaction longer than this (warning; critical at 5x)', '60s')
    .option('--pool-max <n>', 'the application pool size to compare with max_connections (default: config pool.max, AXISOR_POOL_MAX)')
    .addHelpText('after', '\nExit status: 0 nothing worse than info, 1 warnings, 2 critical findings (Nagios style).\n');
  defineAction<Opts>(cmd, ctx, async ({ opts, config }) => {
    // Imported when the action runs, not for --help (start-up time).
    const [{ debugPool }, { exitCodeFor }, { renderPool }] = await Promise.all([import('../src/diagnostics/pool.ts'), import('../src/diagnostics/findings.ts'), import('../src/render/diagnostics.ts')]);
    const result = await debugPool({
      longQueryMs: durationFlag(opts.longQuery, '--long-query'),
      idleInTransactionMs: durationFlag(opts.idleInTransaction, '--idle-in-transaction'),
    }, { config: config(), env: ctx.env, signal: ctx.signal });
    return { result, exitCode: exitCodeFor(result), render: renderPool };
  });
}
