import type { Command } from 'commander';
import type { CliContext } from './context.ts';

export interface CommandModule {
  /** Adds options, arguments, help text and the action to the (already named) command. */
  configure(cmd: Command, ctx: CliContext): void;
}

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

// Loaded lazily: `axisor-db --help` imports none of these (and none of pg, execa, prisma...).
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'migrate', summary: 'apply, check, resolve and lint schema and data migrations', load: () => import('../../commands/migrate.ts') },
  { name: 'backup', summary: 'full, schema-only and incremental backups; list, show, verify, prune', load: () => import('../../commands/backup.ts') },
  { name: 'restore', summary: 'restore a backup chain, optionally to a point in time', load: () => import('../../commands/restore.ts') },
  { name: 'validate', summary: 'data-integrity checks derived from the schema', load: () => import('../../commands/validate.ts') },
  { name: 'fix', summary: 'repair what validate finds (dry run by default; undoable)', load: () => import('../../commands/fix.ts') },
  { name: 'optimize', summary: 'planner-proven index advice from pg_stat_statements', load: () => import('../../commands/optimize.ts') },
  { name: 'debug-pool', summary: 'connections, long transactions, blocking chains', load: () => import('../../commands/debug-pool.ts') },
  { name: 'debug-perf', summary: 'slow queries, sizes, cache, bloat, vacuum and wraparound', load: () => import('../../commands/debug-perf.ts') },
  { name: 'roles', summary: 'least-privilege roles per job as SQL for a DBA (--print-sql)', load: () => import('../../commands/roles.ts') },
  { name: 'seed', summary: 'fill a database with realistic deterministic data (COPY)', load: () => import('../../commands/seed.ts') },
  { name: 'demo', summary: 'the whole job end to end on a demo database', load: () => import('../../commands/demo.ts') },
];
