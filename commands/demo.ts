import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { intFlag } from '../src/cli/options.ts';
import { renderDemo, renderStep } from '../src/render/demo.ts';
import { VERSION } from '../src/version.ts';

interface Opts {
  ephemeral?: boolean;
  demoDb: string;
  users: string;
  tradesPerUser: string;
  keep?: boolean;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .description('the whole job end to end: migrate, seed, backup (full + incremental), validate, fix, restore and compare, diagnostics')
    .option('--ephemeral', 'use a throwaway cluster (wal_level=logical) even if a server is running')
    .option('--demo-db <name>', 'name of the demo database (the restore goes to <name>_restored)', 'axisor_demo')
    .option('--users <n>', 'users to seed', '2000')
    .option('--trades-per-user <n>', 'trades per user', '50')
    .option('--keep', 'keep the demo databases, backups and cluster afterwards')
    .addHelpText('after', `
Target: DATABASE_URL / --database-url (its server; the demo makes its own databases there), else the local server
at 127.0.0.1:5432, else (or with --ephemeral) a throwaway cluster from the installed PostgreSQL binaries.
It only ever drops databases it created (marked with a comment) and removes everything it made unless --keep.
Exit: 0 when every step passed (a skipped step is not a failure); otherwise the failing step's exit code.
`);
  defineAction<Opts>(cmd, ctx, async ({ opts, out, config }) => {
    const explicit = opts.databaseUrl !== undefined || ctx.env.DATABASE_URL ? config() : undefined;
    // Imported when the action runs, not for `axisor-db demo --help` (start-up time).
    const { runDemo, exitCodeFor } = await import('../src/demo/run.ts');
    const progress = await out.progress();
    try {
      const result = await runDemo({
        ephemeral: Boolean(opts.ephemeral),
        demoDb: opts.demoDb,
        users: intFlag(opts.users, '--users', { max: 1_000_000 }),
        tradesPerUser: intFlag(opts.tradesPerUser, '--trades-per-user', { min: 0, max: 10_000 }),
        keep: Boolean(opts.keep),
        toolVersion: VERSION,
        onStep: (s) => {
          progress.stop();
          renderStep(s, out);
        },
      }, { config: explicit, env: ctx.env, signal: ctx.signal, onProgress: progress.report });
      return { result, exitCode: exitCodeFor(result), render: renderDemo };
    } finally {
      progress.stop();
    }
  }, { namesDatabase: false });
}
