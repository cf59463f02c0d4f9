import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { DEFAULT_JOBS, intFlag } from '../src/cli/options.ts';
import { UsageError } from '../src/errors.ts';
import { formatBytes, renderKeyValues } from '../src/render/index.ts';
import { renderPhases } from '../src/render/backup.ts';
import type { RestoreResult } from '../src/restore/service.ts';

function render(r: RestoreResult, out: import('../src/render/index.ts').Output): void {
  for (const w of r.warnings) out.warn(w);
  out.print(renderKeyValues([
    ['restored', r.id + (r.schemaOnly ? ' (schema-only: no rows)' : '')], ['chain', r.chain.join(' -> ')], ['into', `${r.targetDb}${r.replacedExisting ? ' (replaced)' : ''}`], ['tables', r.tables.length], ['rows', r.rows],
    ['to time', r.toTime], ['replayed', r.replay ? `${r.replay.transactions} transactions, ${r.replay.changes} changes${r.replay.lastCommit ? `, last commit ${r.replay.lastCommit}` : ''}` : null],
    ['foreign keys skipped', r.droppedForeignKeys || null],
    ['foreign keys NOT VALID', r.notValidForeignKeys.length ? r.notValidForeignKeys.map((f) => `${f.table}.${f.constraint} (${f.reason})`).join('; ') : null],
    ['extensions skipped', r.skippedExtensions.length ? r.skippedExtensions.join(', ') : null],
    ['swept', r.sweptDatabases.length ? `side databases of killed runs: ${r.sweptDatabases.join(', ')}` : null], ['checked', `${r.checkedFiles} files, ${formatBytes(r.checkedBytes)}`], ['took', `${(r.durationMs / 1000).toFixed(1)} s`],
  ]));
  renderPhases(r.phases, out);
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .argument('[id]', 'backup id (see `axisor-db backup list`)')
    .option('--latest', 'the newest backup with data of the configured database (never a schema-only one)')
    .option('--target-db <name>', 'database to restore into (created if missing; never template0/template1/postgres or the --maintenance-db)')
    .option('--clean', 'replace a non-empty target (dropped only after the restore succeeded; refused while it has open sessions)')
    .option('--to-time <timestamp>', 'replay changes committed up to this time (ISO 8601)')
    .option('--table <name...>', 'restore only these tables (schema.table or table)')
    .option('-j, --jobs <n>', `parallel streams (default ${DEFAULT_JOBS})`)
    .option('--no-owner', 'the restoring role owns every object (no membership of the source\'s owners needed; README, section Roles)')
    .option('--no-acl', 'do not restore the source\'s GRANTs and REVOKEs (when its grantees do not exist here)')
    .option('--backup-dir <dir>', 'where backups live: a directory or s3://bucket/prefix (AXISOR_BACKUP_DIR; default ./backups)')
    .option('--encryption-key-file <file>', 'the key an encrypted backup was written with (AXISOR_BACKUP_KEY_FILE); checked before anything is created')
    .option('--maintenance-db <name>', 'database to connect to for CREATE/RENAME/DROP DATABASE', 'postgres');
  defineAction<{ latest?: boolean; targetDb?: string; clean?: boolean; toTime?: string; table?: string[]; jobs?: string; owner: boolean; acl: boolean; maintenanceDb: string }>(cmd, ctx, async ({ args, opts, out, config }) => {
    if (!opts.targetDb) throw new UsageError('--target-db is required', { hint: 'e.g. axisor-db restore --latest --target-db axisor_restored' });
    if (args[0] && opts.latest) throw new UsageError('give a backup id or --latest, not both');
    const jobs = intFlag(opts.jobs, '--jobs', {}, DEFAULT_JOBS);
    // Imported when the action runs, not for `axisor-db restore --help` (start-up time).
    const [{ runRestore }, { loadBackupKey }] = await Promise.all([import('../src/restore/service.ts'), import('../src/archive/encryption.ts')]);
    const encryptionKey = await loadBackupKey(config());
    if (config().backupLocation.kind === 's3') await (await import('../src/archive/repo.ts')).openBackupLocation(config(), ctx.env);
    const progress = await out.progress();
    try {
      const result = await runRestore({
        id: args[0] ?? null, latest: Boolean(opts.latest), targetDb: opts.targetDb, clean: Boolean(opts.clean), toTime: opts.toTime ?? null, tables: opts.table ?? [],
        jobs, noOwner: opts.owner === false, noAcl: opts.acl === false, maintenanceDb: opts.maintenanceDb, encryptionKey,
      }, { config: config(), env: ctx.env, onProgress: progress.report, signal: ctx.signal });
      progress.stop(`restored ${result.id} into ${result.targetDb}`);
      if (out.json) for (const w of result.warnings) out.warn(w); // the human view prints them itself
      return { result, render };
    } finally {
      progress.stop();
    }
  }, { namesDatabase: false });
}
