import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { intFlag, lockTimeoutOption, prismaSchemaOption, prismaSchemaSpec } from '../src/cli/options.ts';
import { UsageError } from '../src/errors.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface FixFlags {
  apply?: boolean;
  dryRun?: boolean;
  check?: string[];
  table?: string[];
  batchSize?: string;
  samples?: string;
  undo?: string;
  history?: boolean | string;
  prismaSchema?: string;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .description('repair what validate finds: quarantine + delete orphans and negative sizes, reset invalid plan types, recount executions (dry run by default; undoable)')
    .option('--apply', 'change the data (default: a dry run that changes nothing)')
    .option('--dry-run', 'show what would change, in a transaction that is rolled back (the default)')
    .option('--check <name>', 'fix only this check (repeatable; a trailing * matches a prefix)', collect)
    .option('--table <table>', 'fix only the checks on this table (repeatable)', collect)
    .option('--batch-size <n>', 'rows per statement inside the run\'s transaction', '5000')
    .option('--samples <n>', 'sample keys per check in the report', '5')
    .addOption(lockTimeoutOption('lock_timeout for the run'))
    .option('--undo <run-id>', 'put back exactly what that run removed or changed')
    .option('--history [n]', 'list the last n fix runs (default 20)')
    .addOption(prismaSchemaOption());
  cmd.addHelpText('after', '\nEvery applied run is recorded in axisor_quarantine.fix_runs; removed and changed rows are kept in axisor_quarantine.rows.\n');
  defineAction<FixFlags>(cmd, ctx, async ({ opts, out, config }) => {
    const modes = [opts.apply, opts.undo !== undefined, opts.history !== undefined].filter(Boolean).length;
    if (modes > 1) throw new UsageError('--apply, --undo and --history are exclusive', { hint: 'run them one at a time' });
    if (opts.apply && opts.dryRun) throw new UsageError('--apply and --dry-run contradict each other', { hint: 'drop one of them' });
    const cfg = config();
    // Imported when the action runs, not for --help (start-up time).
    const [{ fixDatabase, fixHistory, undoFix }, { exitCodeFor }, { renderFix, renderHistory, renderUndo }] = await Promise.all([
      import('../src/fix/service.ts'), import('../src/fix/exit-code.ts'), import('../src/render/fix.ts')]);
    const svc = { config: cfg, env: ctx.env, signal: ctx.signal };
    if (opts.history !== undefined) {
      const limit = opts.history === true ? 20 : intFlag(String(opts.history), '--history', { max: 10000 });
      return { result: { runs: await fixHistory({ limit }, svc) }, render: renderHistory };
    }
    if (opts.undo !== undefined) {
      return { result: await undoFix({ runId: opts.undo, osUser: ctx.osUser }, svc), render: renderUndo };
    }
    const progress = await out.progress();
    try {
      const report = await fixDatabase({
        checks: opts.check, tables: opts.table, apply: Boolean(opts.apply), osUser: ctx.osUser,
        batchSize: intFlag(opts.batchSize ?? '5000', '--batch-size', { max: 1_000_000 }),
        samples: intFlag(opts.samples ?? '5', '--samples', { min: 0, max: 10000 }),
        prismaSchema: prismaSchemaSpec(opts.prismaSchema, cfg, ctx.cwd),
      }, { ...svc, onProgress: progress.report });
      return { result: report, exitCode: exitCodeFor(report), render: renderFix };
    } finally {
      progress.stop();
    }
  });
}
