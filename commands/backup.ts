import { Option, type Command } from 'commander';
import { BACKUP_TYPES, type BackupType } from '../src/archive/id.ts';
import type { Compression } from '../src/archive/manifest.ts';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { addConnectionOptions, addOutputOptions, DEFAULT_JOBS, durationFlag, intFlag } from '../src/cli/options.ts';
import { ExitCode, NotFoundError, UsageError } from '../src/errors.ts';
import { VERSION } from '../src/version.ts';

/** src/archive/compress.ts's COMPRESSIONS (a unit test keeps them equal): importing it would load execa for --help. */
export const COMPRESSION_CHOICES = ['zstd', 'gzip', 'none'] as const satisfies readonly Compression[];

// The services (pg, execa, ...) are imported when an action runs, not for `axisor-db backup --help`.
const catalog = () => import('../src/archive/catalog.ts');
const views = () => import('../src/render/backup.ts');
/** An s3:// --backup-dir: open and probe the repository (the AWS SDK loads only then). A local directory: nothing. */
async function openLocation(config: import('../src/config/types.ts').AxisorConfig, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  if (config.backupLocation.kind !== 's3') return;
  await (await import('../src/archive/repo.ts')).openBackupLocation(config, env);
}

function common(cmd: Command): Command {
  return cmd.option('--backup-dir <dir>', 'where backups live: a directory or s3://bucket/prefix (AXISOR_BACKUP_DIR; default ./backups)')
    .option('--encryption-key-file <file>', 'encrypt (backup) or decrypt (verify drill) with this 32-byte key, hex or base64, mode 0600 (AXISOR_BACKUP_KEY_FILE)');
}

function sub(parent: Command, name: string, description: string): Command {
  const c = parent.command(name).description(description);
  addConnectionOptions(c);
  addOutputOptions(c);
  return common(c);
}

/** The newest usable backup's id (damaged entries are skipped: verifying them would only repeat the damage). */
async function latestBackupId(dir: string): Promise<string> {
  const { listCatalog, requireBackupDir } = await catalog();
  await requireBackupDir(dir);
  const usable = (await listCatalog(dir)).filter((e) => e.manifest !== null);
  const last = usable[usable.length - 1];
  if (!last) throw new NotFoundError('backup', `no backups in ${dir}`, { hint: 'take one with axisor-db backup, or pass --backup-dir / AXISOR_BACKUP_DIR' });
  return last.id;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd.enablePositionalOptions();
  common(cmd)
    .addOption(new Option('-t, --type <type>', 'full | schema-only | incremental').choices(BACKUP_TYPES as string[]).default('full'))
    .addOption(new Option('--compress <codec>', 'compression of the data streams').choices(COMPRESSION_CHOICES).default('zstd'))
    .option('--compress-level <n>', 'zstd 1-19 (default: 2 for COPY binary streams, 1 with long-distance matching for text), gzip 1-9 (default 6)')
    .option('-j, --jobs <n>', `parallel data streams (default ${DEFAULT_JOBS})`)
    .option('--wait <seconds>', 'wait this long for another backup of the database to finish (default: fail at once, exit 75)', '0')
    .option('--no-chain', 'a full backup does not start an incremental chain (no replication slot)')
    .addOption(new Option('--copy-format <format>', 'how rows are written: auto (COPY binary for every table whose column types read back in any database, text for the rest) | text (every table as COPY text, for a restore into another major version or by other tools)').choices(['auto', 'text']).default('auto'))
    .addHelpText('after', '\nSubcommands: list, show <id>, verify <id>, prune, status (run `axisor-db backup <sub> --help`).\n');
  defineAction<{ type: BackupType; compress: Compression; compressLevel?: string; jobs?: string; wait: string; chain: boolean; copyFormat: 'auto' | 'text' }>(cmd, ctx, async ({ opts, out, config }) => {
    const compressLevel = intFlag(opts.compressLevel, '--compress-level', { min: 0 });
    const jobs = intFlag(opts.jobs, '--jobs', { max: 64 }, DEFAULT_JOBS);
    const waitSeconds = intFlag(opts.wait, '--wait', { min: 0 });
    const [{ runBackup }, { renderBackup }, { loadBackupKey }] = await Promise.all([import('../src/backup/service.ts'), views(), import('../src/archive/encryption.ts')]);
    const encryptionKey = await loadBackupKey(config());
    await openLocation(config(), ctx.env);
    const progress = await out.progress();
    try {
      const result = await runBackup({
        encryptionKey,
        type: opts.type, compression: opts.compress, compressLevel,
        jobs, waitSeconds, startChain: opts.chain !== false, copyFormat: opts.copyFormat, toolVersion: VERSION,
      }, { config: config(), env: ctx.env, signal: ctx.signal, onProgress: progress.report, onWarning: (m) => out.warn(m) });
      progress.stop(`backup ${result.id} done`);
      return { result, render: (r, o) => renderBackup({ ...r, warnings: [] }, o) };
    } finally {
      progress.stop();
    }
  });

  defineAction(sub(cmd, 'list', 'list the complete backups (oldest first)'), ctx, async ({ config }) => {
    const dir = config().backupDir;
    await openLocation(config(), ctx.env);
    const [{ listCatalog, requireBackupDir }, { toListResult, renderList }] = await Promise.all([catalog(), views()]);
    await requireBackupDir(dir);
    return { result: toListResult(dir, await listCatalog(dir)), render: renderList };
  }, { connects: false });

  defineAction(sub(cmd, 'show', 'show one backup\'s manifest').argument('<id>', 'backup id'), ctx, async ({ args, config }) => {
    const [{ findBackup }, { renderShow }] = await Promise.all([catalog(), views()]);
    await openLocation(config(), ctx.env);
    const { manifest } = await findBackup(config().backupDir, args[0]!);
    return { result: manifest, render: renderShow };
  }, { connects: false });

  const verify = sub(cmd, 'verify', 'check every file\'s sha256, then restore into a scratch database and compare row counts and content digests, whatever the row order (exit 65 only for a real difference)')
    .argument('[id]', 'backup id').option('--latest', 'the newest backup in --backup-dir (for cron: no id to look up)').option('--no-drill', 'checksums only').option('-j, --jobs <n>', 'parallel restore streams for the drill').option('--maintenance-db <name>', 'database to connect to for CREATE/DROP DATABASE', 'postgres');
  defineAction<{ latest?: boolean; drill: boolean; jobs?: string; maintenanceDb: string }>(verify, ctx, async ({ args, opts, out, config }) => {
    if (Boolean(args[0]) === Boolean(opts.latest)) throw new UsageError('give a backup id or --latest (one of them)', { hint: 'axisor-db backup verify --latest, or an id from axisor-db backup list' });
    const jobs = intFlag(opts.jobs, '--jobs', { max: 64 }, DEFAULT_JOBS);
    await openLocation(config(), ctx.env);
    const id = args[0] ?? (await latestBackupId(config().backupDir));
    const [{ verifyBackup }, { renderVerify }, { loadBackupKey }] = await Promise.all([import('../src/restore/verify.ts'), views(), import('../src/archive/encryption.ts')]);
    const encryptionKey = await loadBackupKey(config());
    const progress = await out.progress();
    try {
      const result = await verifyBackup({ encryptionKey, id, drill: opts.drill !== false, jobs, maintenanceDb: opts.maintenanceDb }, { config: config(), env: ctx.env, onProgress: progress.report, signal: ctx.signal });
      // Kept for `backup status --check` and the OpenMetrics textfile (last verify time and result).
      const [{ recordVerify }, { findBackup }] = await Promise.all([import('../src/backup/health.ts'), catalog()]);
      const { manifest } = await findBackup(config().backupDir, id);
      await recordVerify(config().backupDir, manifest.database, { id, finishedAt: new Date().toISOString(), ok: result.ok });
      return { result, exitCode: result.ok ? ExitCode.OK : ExitCode.INTEGRITY, render: renderVerify };
    } finally {
      progress.stop();
    }
  });

  const prune = sub(cmd, 'prune', 'delete backups that no retention rule keeps (never one a kept incremental needs)')
    .option('--keep-last <n>', 'keep the newest N backups').option('--keep-daily <n>', 'keep the newest backup of each of the last N days (UTC)')
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last N ISO weeks')
    .option('--keep-schema-only <n>', 'keep the newest N schema-only backups (they never count for the rules above; without this rule all are kept)')
    .option('--dry-run', 'explain what would be deleted and why; delete nothing')
    .addHelpText('after', '\nExamples:\n  axisor-db backup prune --keep-last 48 --keep-daily 14 --keep-weekly 8 --dry-run\n  axisor-db backup prune --keep-last 7 --keep-schema-only 2\n');
  defineAction<{ keepLast?: string; keepDaily?: string; keepWeekly?: string; keepSchemaOnly?: string; dryRun?: boolean }>(prune, ctx, async ({ opts, config }) => {
    if (opts.keepLast === undefined && opts.keepDaily === undefined && opts.keepWeekly === undefined && opts.keepSchemaOnly === undefined) {
      throw new UsageError('prune needs at least one rule', { hint: 'e.g. --keep-last 7 --keep-daily 7 --keep-weekly 4 (add --dry-run to preview)' });
    }
    const rules = {
      keepLast: intFlag(opts.keepLast, '--keep-last', { min: 0 }, 0), keepDaily: intFlag(opts.keepDaily, '--keep-daily', { min: 0 }, 0), keepWeekly: intFlag(opts.keepWeekly, '--keep-weekly', { min: 0 }, 0),
      keepSchemaOnly: intFlag(opts.keepSchemaOnly, '--keep-schema-only', { min: 0 }) ?? null,
    };
    const [{ runPrune }, { renderPrune }] = await Promise.all([import('../src/backup/prune.ts'), views()]);
    await openLocation(config(), ctx.env);
    return { result: await runPrune({ rules, dryRun: Boolean(opts.dryRun) }, { config: config(), env: ctx.env, signal: ctx.signal }), render: renderPrune };
  }, { connects: false });

  const status = sub(cmd, 'status', 'incremental readiness, the chain, and every axisor-db slot on the server with its lag and retained WAL')
    .option('--check', 'monitoring: one Nagios line; exit 0 OK, 1 WARNING, 2 CRITICAL (age of the newest backup, slot WAL, last verify, damaged entries)')
    .option('--max-age <duration>', 'with --check/--format openmetrics: CRITICAL when the newest full or incremental finished longer ago (default 26h)')
    .option('--warn-age <duration>', 'WARNING when the newest backup is older than this (default: none)')
    .addOption(new Option('--format <format>', 'text (default) or openmetrics (node_exporter textfile metrics)').choices(['text', 'openmetrics']).default('text'))
    .option('--output <file>', 'with --format openmetrics: write the metrics here atomically (e.g. /var/lib/node_exporter/textfile/axisor_backup.prom)')
    .addHelpText('after', '\nExamples:\n  axisor-db backup status --check --max-age 26h            # Nagios/Icinga check command\n  axisor-db backup status --format openmetrics --output /var/lib/node_exporter/textfile/axisor_backup.prom\n');
  defineAction<{ check?: boolean; maxAge?: string; warnAge?: string; format: 'text' | 'openmetrics'; output?: string }>(status, ctx, async ({ opts, config }) => {
    await openLocation(config(), ctx.env);
    if (!opts.check && opts.format !== 'openmetrics') {
      if (opts.maxAge || opts.warnAge || opts.output) throw new UsageError('--max-age, --warn-age and --output go with --check or --format openmetrics', { hint: 'axisor-db backup status --check --max-age 26h' });
      const [{ backupStatus }, { renderStatus }] = await Promise.all([import('../src/backup/status.ts'), views()]);
      return { result: await backupStatus({}, { config: config(), env: ctx.env, signal: ctx.signal }), render: renderStatus };
    }
    if (opts.format === 'openmetrics' && !opts.output) throw new UsageError('--format openmetrics needs --output <file>', { hint: 'e.g. --output /var/lib/node_exporter/textfile/axisor_backup.prom' });
    const [{ backupHealth, writeHealthMetrics }, { DEFAULT_THRESHOLDS, formatNagios }] = await Promise.all([import('../src/backup/health.ts'), import('../src/backup-health/index.ts')]);
    const thresholds = {
      ...DEFAULT_THRESHOLDS,
      ...(opts.maxAge ? { maxAgeMs: durationFlag(opts.maxAge, '--max-age') } : {}),
      ...(opts.warnAge ? { warnAgeMs: durationFlag(opts.warnAge, '--warn-age') } : {}),
    };
    const now = new Date();
    const report = await backupHealth(config(), thresholds, now);
    if (opts.output) await writeHealthMetrics(report, opts.output, now);
    const result = { ...report.result, nagios: formatNagios(report.result), metricsFile: opts.output ?? null };
    return {
      result, exitCode: opts.check ? report.result.status : ExitCode.OK,
      render: (r: typeof result, out: import('../src/render/index.ts').Output) => (opts.check ? out.print(r.nagios) : out.print(`metrics written to ${r.metricsFile} (${r.label})`)),
    };
  });
}
