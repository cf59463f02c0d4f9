import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { durationFlag, intFlag } from '../src/cli/options.ts';

interface Opts {
  slowMs: string;
  slowCalls: string;
  limit: string;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .description('slow queries, table/index sizes, cache hit, index usage, bloat, vacuum, xid wraparound, sequences, index problems (read-only)')
    .option('--slow-ms <duration>', 'a statement is slow from this mean time (bare number = ms)', '20')
    .option('--slow-calls <n>', '...when it ran at least this many times', '100')
    .option('--limit <n>', 'rows per list', '20')
    .addHelpText('after', '\nExit status: 0 nothing worse than info, 1 warnings, 2 critical findings (Nagios style).\nWithout pg_stat_statements the slow-query check is skipped with a note; everything else runs.\n');
  defineAction<Opts>(cmd, ctx, async ({ opts, config }) => {
    // Imported when the action runs, not for --help (start-up time).
    const [{ debugPerf }, { exitCodeFor }, { renderPerf }] = await Promise.all([import('../src/diagnostics/perf.ts'), import('../src/diagnostics/findings.ts'), import('../src/render/diagnostics.ts')]);
    const result = await debugPerf({
      slowMs: durationFlag(opts.slowMs, '--slow-ms', { bareNumber: 'ms' }),
      slowCalls: intFlag(opts.slowCalls, '--slow-calls', { min: 0 }),
      limit: intFlag(opts.limit, '--limit', { max: 1000 }),
    }, { config: config(), env: ctx.env, signal: ctx.signal });
    return { result, exitCode: exitCodeFor(result), render: renderPerf };
  });
}
