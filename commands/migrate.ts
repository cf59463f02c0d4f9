import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defineAction, type ActionInput } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { addConnectionOptions, addOutputOptions, intFlag, lockTimeoutOption } from '../src/cli/options.ts';
import { UsageError } from '../src/errors.ts';
import { LINT_RULES, lintExitCode, lintFiles, lintPending } from '../src/migrate/lint/index.ts';
import { renderLint, renderResolve, renderStatus, renderUp } from '../src/render/migrate.ts';
import { resolveMigration } from '../src/migrate/resolve.ts';
import { migrateStatus, migrateUp } from '../src/migrate/runner.ts';
import { exitCodeFor as statusExitCode, STATUS_BITS_HELP } from '../src/migrate/status.ts';

interface MigrateFlags {
  migrationsDir?: string;
  dryRun?: boolean;
  allowModified?: boolean;
  batchSize?: string;
  applied?: string;
  rolledBack?: string;
}

const LINT_HELP = `\nLint rules (exit 0 clean, 1 warnings only, 2 errors; silence one statement with\n"-- axisor-lint-ignore: <rule>[, <rule>]" on the line(s) before it):\n${LINT_RULES.map(([id, sev, text]) => `  ${id.padEnd(31)} ${sev.padEnd(7)} ${text}`).join('\n')}\n`;

function common(cmd: Command): Command {
  addConnectionOptions(cmd);
  addOutputOptions(cmd);
  return cmd.option('--migrations-dir <dir>', 'folder of <name>/migration.sql (default: prisma/migrations, or migrationsDir in the config file)');
}

function upOptions(cmd: Command): Command {
  return cmd
    .option('--dry-run', 'print what would run (and rows data migrations would change); change nothing')
    .option('--allow-modified', 'continue although an applied migration changed since it ran')
    .addOption(lockTimeoutOption('how long to wait for another run\'s migration lock'))
    .option('--batch-size <n>', 'rows per batch in data migrations (default 5000)');
}

const dirOf = (input: ActionInput<MigrateFlags>) => (input.opts.migrationsDir ? resolve(input.ctx.cwd, input.opts.migrationsDir) : input.config().migrationsDir);

async function up(input: ActionInput<MigrateFlags>) {
  const { opts, out, ctx, config } = input;
  const cfg = config();
  const progress = await out.progress();
  try {
    const result = await migrateUp({
      migrationsDir: dirOf(input),
      dryRun: opts.dryRun,
      allowModified: opts.allowModified,
      lockTimeoutMs: cfg.lockTimeoutMs,
      batchSize: intFlag(opts.batchSize, '--batch-size', { max: 1_000_000 }, 5000),
    }, { config: cfg, env: ctx.env, signal: ctx.signal, onProgress: progress.report, onWarning: (t) => out.warn(t) });
    return { result, render: renderUp };
  } finally {
    progress.stop();
  }
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd.description('apply pending schema migrations (prisma/migrations, recorded in _prisma_migrations exactly as Prisma does) then data migrations; one run at a time')
    .option('--migrations-dir <dir>', 'folder of <name>/migration.sql (default: prisma/migrations)');
  upOptions(cmd);
  defineAction<MigrateFlags>(cmd, ctx, up);
  defineAction<MigrateFlags>(upOptions(common(cmd.command('up').description('same as `migrate`: apply all pending migrations'))), ctx, up);

  const status = common(cmd.command('status').description('list schema and data migrations and their state; the exit code is a bitmap'))
    .addHelpText('after', `\n${STATUS_BITS_HELP}\n`);
  cmd.addHelpText('after', `\n${STATUS_BITS_HELP}\n`);
  defineAction<MigrateFlags>(status, ctx, async (input) => {
    const cfg = input.config();
    const result = await migrateStatus({ migrationsDir: dirOf(input) }, { config: cfg, env: input.ctx.env, signal: input.ctx.signal, onWarning: (t) => input.out.warn(t) });
    return { result, exitCode: statusExitCode(result), render: renderStatus };
  });

  const res = common(cmd.command('resolve').description('record a failed migration as rolled back (to retry it) or as applied (done by hand, or baselining)'))
    .option('--applied <name>', 'record <name> as applied without running it')
    .option('--rolled-back <name>', 'record the failed attempt of <name> as rolled back; the next migrate applies it again')
    .addOption(lockTimeoutOption('how long to wait for another run\'s migration lock'));
  defineAction<MigrateFlags>(res, ctx, async (input) => {
    const { applied, rolledBack } = input.opts;
    if (Boolean(applied) === Boolean(rolledBack)) throw new UsageError('give exactly one of --applied <name> or --rolled-back <name>', { hint: 'axisor-db migrate resolve --rolled-back 20250101000000_add_x' });
    const cfg = input.config();
    const result = await resolveMigration({
      migrationsDir: dirOf(input), name: (applied ?? rolledBack)!, action: applied ? 'applied' : 'rolled-back', lockTimeoutMs: cfg.lockTimeoutMs,
    }, { config: cfg, env: input.ctx.env, signal: input.ctx.signal, onWarning: (t) => input.out.warn(t) });
    return { result, render: renderResolve };
  });

  const lint = common(cmd.command('lint').description('flag dangerous DDL in the given files, or (no files) in the pending migrations'))
    .argument('[files...]', 'migration.sql files or migration folders (default: pending migrations; needs the database)')
    .addHelpText('after', LINT_HELP);
  defineAction<MigrateFlags>(lint, ctx, async (input) => {
    const result = input.args.length ? await lintFiles(input.args, input.ctx.cwd) : await lintPending({ migrationsDir: dirOf(input), cwd: input.ctx.cwd }, { config: input.config(), env: input.ctx.env, signal: input.ctx.signal });
    return { result, exitCode: lintExitCode(result), render: renderLint };
  });
}
