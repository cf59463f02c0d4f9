import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { intFlag } from '../src/cli/options.ts';
import { UsageError } from '../src/errors.ts';
import { DEFAULT_AS_OF, SEED_DEFAULTS, seedDatabase, type SeedMode } from '../src/seed/index.ts';
import { renderSeed } from '../src/render/seed.ts';

interface SeedFlags {
  users?: string;
  tradesPerUser?: string;
  automationsPerUser?: string;
  notificationsPerUser?: string;
  seed?: string;
  asOf?: string;
  append?: boolean;
  truncate?: boolean;
  bulk?: boolean;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .option('--users <n>', `users to create (default ${SEED_DEFAULTS.users})`)
    .option('--trades-per-user <n>', `TradeLog rows per user (default ${SEED_DEFAULTS.tradesPerUser})`)
    .option('--automations-per-user <n>', `automations per user (default ${SEED_DEFAULTS.automationsPerUser})`)
    .option('--notifications-per-user <n>', `notifications per user, the first a welcome (default ${SEED_DEFAULTS.notificationsPerUser})`)
    .option('--seed <n>', `random seed: the same seed gives identical data, ids included (default ${SEED_DEFAULTS.seed})`)
    .option('--as-of <date>', `the "now" of the generated history (default ${DEFAULT_AS_OF})`)
    .option('--append', 'add to a database that already holds Axisor data (needs a --seed not loaded yet)')
    .option('--truncate', 'empty all Axisor tables first (in the same transaction as the load)')
    .option('--no-bulk', 'COPY into the full schema instead of dropping and rebuilding indexes and foreign keys')
    .addHelpText('after', `
Refuses (exit 77) when the Axisor tables already hold rows, unless --append or --truncate.
Everything runs in one transaction: an error or Ctrl-C leaves the database as it was.
`);
  defineAction<SeedFlags>(cmd, ctx, async ({ opts, out, config }) => {
    if (opts.append && opts.truncate) throw new UsageError('--append and --truncate exclude each other', { hint: 'pass one of them' });
    const mode: SeedMode = opts.truncate ? 'truncate' : opts.append ? 'append' : 'refuse';
    const cfg = config();
    const progress = await out.progress();
    try {
      const result = await seedDatabase({
        users: intFlag(opts.users, '--users', { min: 0 }),
        tradesPerUser: intFlag(opts.tradesPerUser, '--trades-per-user', { min: 0 }),
        automationsPerUser: intFlag(opts.automationsPerUser, '--automations-per-user', { min: 0 }),
        notificationsPerUser: intFlag(opts.notificationsPerUser, '--notifications-per-user', { min: 0 }),
        seed: intFlag(opts.seed, '--seed', { min: 0 }),
        asOf: opts.asOf,
        mode,
        bulk: opts.bulk !== false,
      }, { config: cfg, env: ctx.env, onProgress: progress.report, signal: ctx.signal });
      progress.stop(`seeded ${result.totalRows.toLocaleString('en-US')} rows`);
      return { result, render: renderSeed };
    } catch (err) {
      progress.stop();
      throw err;
    }
  });
}
