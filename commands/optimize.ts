import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { intFlag, lockTimeoutOption, numberFlag } from '../src/cli/options.ts';

interface Opts {
  minImprovement: string;
  minCost: string;
  minCalls: string;
  limit: string;
  hypopg: boolean;
  apply?: boolean;
  writeMigration?: boolean;
  migrationName: string;
  schemaFile: string;
  migrationsDir?: string;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .description('index advice from pg_stat_statements, proven with hypothetical indexes (HypoPG); changes nothing unless --apply / --write-migration')
    .option('--min-improvement <percent>', 'suggest an index only if it cuts a statement\'s planned cost by at least this much', '50')
    .option('--min-cost <cost>', 'ignore statements whose plan costs less than this (planner units)', '100')
    .option('--min-calls <n>', 'ignore statements called fewer times', '10')
    .option('--limit <n>', 'examine the top N statements by total time', '50')
    .option('--no-hypopg', 'use the statistics heuristic even when HypoPG is installed (lower confidence)')
    .option('--apply', 'create the suggested indexes (CREATE INDEX CONCURRENTLY IF NOT EXISTS) and ANALYZE tables with stale statistics')
    .option('--write-migration', 'write the suggestions as prisma/migrations/<ts>_<name>/migration.sql and add @@index to schema.prisma')
    .option('--migration-name <name>', 'name part of the migration directory', 'optimize_indexes')
    .option('--schema-file <path>', 'schema.prisma to add @@index lines to', 'prisma/schema.prisma')
    .addOption(lockTimeoutOption('lock_timeout for the --apply DDL and ANALYZE'))
    .option('--migrations-dir <path>', 'migrations directory (default: the config\'s migrationsDir, prisma/migrations)')
    .addHelpText('after', '\nExit status: 0 nothing to do, 1 suggestions or warnings, 2 critical (e.g. an --apply build failed);\n69 when pg_stat_statements is missing or not preloaded (the message lists the steps to enable it).\n');
  defineAction<Opts>(cmd, ctx, async ({ opts, config, out }) => {
    const minImprovement = numberFlag(opts.minImprovement, '--min-improvement', { min: 0, exclusive: true, max: 100, example: '50' });
    const minCost = numberFlag(opts.minCost, '--min-cost', { min: 0, example: '100' });
    const minCalls = intFlag(opts.minCalls, '--min-calls', { min: 0 });
    const limit = intFlag(opts.limit, '--limit', { max: 10_000 });
    const cfg = config();
    // Imported when the action runs, not for --help (start-up time).
    const [{ optimize }, { exitCodeFor }, { renderOptimize }] = await Promise.all([import('../src/optimize/optimize.ts'), import('../src/optimize/exit-code.ts'), import('../src/render/optimize.ts')]);
    const progress = await out.progress();
    try {
      const result = await optimize({
        minImprovement: minImprovement / 100,
        minCost,
        minCalls,
        limit,
        maxColumnsPerTable: 6,
        useHypopg: opts.hypopg !== false,
        apply: Boolean(opts.apply),
        writeMigration: opts.writeMigration ? {
          schemaFile: resolve(ctx.cwd, opts.schemaFile),
          migrationsDir: opts.migrationsDir ? resolve(ctx.cwd, opts.migrationsDir) : cfg.migrationsDir,
          name: opts.migrationName,
          now: new Date(),
        } : null,
      }, { config: cfg, env: ctx.env, signal: ctx.signal, onProgress: progress.report });
      return { result, exitCode: exitCodeFor(result), render: renderOptimize };
    } finally {
      progress.stop();
    }
  });
}
