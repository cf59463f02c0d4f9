import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { findBackup, listCatalog } from '../src/backup/catalog.ts';
import { COMPRESSIONS } from '../src/backup/compress.ts';
import { BACKUP_TYPES, type BackupType } from '../src/backup/id.ts';
import type { Compression } from '../src/backup/manifest.ts';
import { runPrune } from '../src/backup/prune.ts';
import { renderBackup, renderList, renderPrune, renderShow, renderStatus, renderVerify, toListResult } from '../src/backup/render.ts';
import { runBackup } from '../src/backup/service.ts';
import { backupStatus } from '../src/backup/status.ts';
import { verifyBackup } from '../src/backup/verify.ts';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { addConnectionOptions, addOutputOptions } from '../src/cli/options.ts';
import { parsePositiveInt } from '../src/config/index.ts';
import { ExitCode, UsageError } from '../src/errors.ts';
import { VERSION } from '../src/version.ts';

const DEFAULT_JOBS = Math.max(2, Math.min(4, availableParallelism()));

function common(cmd: Command): Command {
  return cmd.option('--backup-dir <dir>', 'where backups live (AXISOR_BACKUP_DIR; default ./backups)');
}

function sub(parent: Command, name: string, description: string): Command {
  const c = parent.command(name).description(description);
  addConnectionOptions(c);
  addOutputOptions(c);
  return common(c);
}

function int(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(String(value))) throw new UsageError(`${flag} must be a whole number (got '${value}')`);
  return Number(value);
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd.enablePositionalOptions();
  common(cmd)
    .addOption(new Option('-t, --type <type>', 'full | schema-only | incremental').choices(BACKUP_TYPES as string[]).default('full'))
    .addOption(new Option('--compress <codec>', 'compression of the data streams').choices(COMPRESSIONS as string[]).default('zstd'))
    .option('--compress-level <n>', 'zstd 1-19 (default 1), gzip 1-9 (default 6)')
    .option('-j, --jobs <n>', `parallel data streams (default ${DEFAULT_JOBS})`)
    .option('--wait <seconds>', 'wait this long for another backup of the database to finish (default: fail at once, exit 75)', '0')
    .option('--no-chain', 'a full backup does not start an incremental chain (no replication slot)')
    .addHelpText('after', '\nSubcommands: list, show <id>, verify <id>, prune, status (run `axisor-db backup <sub> --help`).\n');
  defineAction<{ type: BackupType; compress: Compression; compressLevel?: string; jobs?: string; wait: string; chain: boolean }>(cmd, ctx, async ({ opts, out, config }) => {
    const progress = await out.progress();
    try {
      const result = await runBackup(config(), {
        type: opts.type, compression: opts.compress, compressLevel: opts.compressLevel === undefined ? undefined : int(opts.compressLevel, '--compress-level', 0),
        jobs: opts.jobs === undefined ? DEFAULT_JOBS : parsePositiveInt(opts.jobs, '--jobs'), waitSeconds: int(opts.wait, '--wait', 0), startChain: opts.chain !== false,
        env: ctx.env, toolVersion: VERSION, signal: ctx.signal, onProgress: progress.report, onWarning: (m) => out.warn(m),
      });
      progress.stop(`backup ${result.id} done`);
      return { result, render: (r, o) => renderBackup({ ...r, warnings: [] }, o) };
    } finally {
      progress.stop();
    }
  });

  defineAction(sub(cmd, 'list', 'list the complete backups (oldest first)'), ctx, async ({ config }) => {
    const dir = config().backupDir;
    return { result: toListResult(dir, await listCatalog(dir)), render: renderList };
  });

  defineAction(sub(cmd, 'show', 'show one backup\'s manifest').argument('<id>', 'backup id'), ctx, async ({ args, config }) => {
    const { manifest } = await findBackup(config().backupDir, args[0]!);
    return { result: manifest, render: renderShow };
  });

  const verify = sub(cmd, 'verify', 'check every file\'s sha256, then restore into a scratch database and compare rows and content (exit 65 on any mismatch)')
    .argument('<id>', 'backup id').option('--no-drill', 'checksums only').option('-j, --jobs <n>', 'parallel restore streams for the drill').option('--maintenance-db <name>', 'database to connect to for CREATE/DROP DATABASE', 'postgres');
  defineAction<{ drill: boolean; jobs?: string; maintenanceDb: string }>(verify, ctx, async ({ args, opts, out, config }) => {
    const progress = await out.progress();
    try {
      const result = await verifyBackup(config(), { id: args[0]!, drill: opts.drill !== false, jobs: opts.jobs === undefined ? DEFAULT_JOBS : parsePositiveInt(opts.jobs, '--jobs'), maintenanceDb: opts.maintenanceDb, env: ctx.env, onProgress: progress.report, signal: ctx.signal });
      return { result, exitCode: result.ok ? ExitCode.OK : ExitCode.INTEGRITY, render: renderVerify };
    } finally {
      progress.stop();
    }
  });

  const prune = sub(cmd, 'prune', 'delete backups that no retention rule keeps (never one a kept incremental needs)')
    .option('--keep-last <n>', 'keep the newest N backups').option('--keep-daily <n>', 'keep the newest backup of each of the last N days (UTC)')
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last N ISO weeks').option('--dry-run', 'explain what would be deleted and why; delete nothing');
  defineAction<{ keepLast?: string; keepDaily?: string; keepWeekly?: string; dryRun?: boolean }>(prune, ctx, async ({ opts, config }) => {
    if (opts.keepLast === undefined && opts.keepDaily === undefined && opts.keepWeekly === undefined) {
      throw new UsageError('prune needs at least one rule', { hint: 'e.g. --keep-last 7 --keep-daily 7 --keep-weekly 4 (add --dry-run to preview)' });
    }
    const rules = { keepLast: int(opts.keepLast, '--keep-last', 0), keepDaily: int(opts.keepDaily, '--keep-daily', 0), keepWeekly: int(opts.keepWeekly, '--keep-weekly', 0) };
    return { result: await runPrune(config().backupDir, rules, Boolean(opts.dryRun)), render: renderPrune };
  });

  defineAction(sub(cmd, 'status', 'incremental readiness, the chain, and every axisor-db slot on the server with its lag and retained WAL'), ctx, async ({ config }) => {
    return { result: await backupStatus(config()), render: renderStatus };
  });
}
