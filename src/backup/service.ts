import { constants } from 'node:fs';
import { access, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import type { ServiceContext } from '../service.ts';
import { connectClient } from '../db/connect.ts';
import { withAdvisoryLock } from '../db/advisory-lock.ts';
import { AbortedError, AxisorError, LockHeldError, PrerequisiteError, UsageError } from '../errors.ts';
import { sweepTempDirsOnce } from '../pgtools/tempdirs.ts';
import { sweepSideDatabases } from '../db/side-databases.ts';
import { formatBytes } from '../format.ts';
import { classifyFailure, freeBytes, pathError, type FailureContext } from '../archive/classify.ts';
import { backupEntryDir, claimTempDir, cleanStaleTemps, listCatalog, tempDirName } from '../archive/catalog.ts';
import { isBackupId } from '../archive/id.ts';
import { repoAt } from '../archive/repo.ts';
import { claimBackup, OWNER_OBJECT, sweepAbandoned } from '../storage/publish.ts';
import type { LockHandle, Repository } from '../storage/types.ts';
import { codecFor, probeCodec, type Codec } from '../archive/compress.ts';
import { writeFullBackup } from './full.ts';
import { ensurePrivateDir, DIR_MODE, publishDir, removeDir } from '../archive/fsx.ts';
import { newBackupId } from '../archive/id.ts';
import { advanceSlot, writeIncrementalBackup, IncrementalNeedsFull } from './incremental.ts';
import { serverInfo, type ServerInfo } from './introspect.ts';
import { MANIFEST_FILE, putManifest, writeManifest, type Manifest } from '../archive/manifest.ts';
import { discardSlot, dropOtherSlots, logicalBlocker, newSlotName, persistSlot, publicationBlocker, slotPrefix } from './slots.ts';
import type { BackupInput, BackupOptions, BackupResult, RunContext } from './types.ts';

/**
 * Keeps exactly one slot per (database, backup directory): the one of the newest full backup that has one.
 * Old chains' slots and orphans of killed runs would otherwise pin WAL forever.
 */
async function reconcileSlots(control: import('pg').Client, prefix: string, backupDir: string, database: string): Promise<void> {
  const fulls = (await listCatalog(backupDir)).filter((e) => e.manifest?.type === 'full' && e.manifest.database === database && e.manifest.slot);
  const keep = fulls[fulls.length - 1]?.manifest?.slot?.name ?? null;
  await dropOtherSlots(control, prefix, keep).catch(() => []);
}

/** The advisory lock key: one backup per database at a time, whatever directory it writes to. */
export function backupLockKey(database: string): string {
  return `axisor-db:backup:${database}`;
}

/**
 * `axisor-db backup`: takes the per-database lock, writes the backup under a temporary name, then publishes it
 * atomically. Nothing is listed unless it is complete and fsynced.
 */
export async function runBackup(input: BackupInput, ctx: ServiceContext): Promise<BackupResult> {
  return takeBackup(ctx.config, { ...input, env: ctx.env, signal: ctx.signal, onProgress: ctx.onProgress, onWarning: ctx.onWarning });
}

async function takeBackup(config: AxisorConfig, opts: BackupOptions): Promise<BackupResult> {
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) throw new UsageError(`--jobs must be a positive integer (got ${opts.jobs})`);
  const codec = codecFor(opts.compression, opts.compressLevel);
  const compressorVersion = await probeCodec(codec, opts.env);
  const backupDir = config.backupDir;
  sweepTempDirsOnce();
  // An S3 location was opened and probed by the command (openBackupLocation); a local directory keeps its path code.
  const repo = repoAt(backupDir);
  const { removedTempDirs, startNotes } = await sweepLocation(backupDir, repo);
  const control = await connectClient(config, { applicationName: 'axisor-db backup', statementTimeoutMs: 0 });
  const failure: FailureContext = { dir: repo ? undefined : backupDir, needBytes: null, what: 'backup', outcome: 'nothing was published', server: `${config.connection.host}:${config.connection.port}`, connected: true };
  try {
    const preWarnings: string[] = [...startNotes];
    for (const n of startNotes) opts.onWarning?.(n);
    const info = await serverInfo(control);
    failure.what = `backup of ${info.database}`;
    if (opts.type !== 'incremental' && !repo) {
      const est = await preflightSpace(control, backupDir, opts.type === 'schema-only' ? 'schema-only' : codec.name);
      failure.needBytes = est.needBytes;
      if (est.warning) {
        opts.onWarning?.(est.warning);
        preWarnings.push(est.warning);
      }
    }
    return await withAdvisoryLock(control, backupLockKey(info.database), { timeoutMs: opts.waitSeconds * 1000, pollMs: 200, label: `backup of ${info.database}`, waitFlag: '--wait <seconds>' }, async () => {
      // Two hosts can share one bucket: the repository's own lock, besides the server's advisory lock.
      const repoLock = repo ? await repo.acquireLock(`backup-${info.database}`, { waitMs: opts.waitSeconds * 1000, label: `backup of ${info.database}` }) : null;
      try {
        const warnings = [...preWarnings];
        const warn = (m: string) => {
          warnings.push(m);
          opts.onWarning?.(m);
        };
        return await lockedBackup({ config, opts, codec, compressorVersion, backupDir, repo, repoLock, control, info, failure, removedTempDirs, warnings, warn,
          prefix: slotPrefix(info.database, backupDir), startedAt: opts.now?.() ?? new Date() });
      } finally {
        await repoLock?.release().catch(() => {});
      }
    });
  } catch (err) {
    throw await classifyFailure(err, failure);
  } finally {
    await control.end().catch(() => {});
  }
}

/** Everything one backup run decided before taking the locks, handed to each phase. */
interface BackupRun {
  config: AxisorConfig;
  opts: BackupOptions;
  codec: Codec;
  compressorVersion: string | null;
  backupDir: string;
  repo: Repository | null;
  repoLock: LockHandle | null;
  /** The run's own session: locks, slots, catalog. */
  control: pg.Client;
  info: ServerInfo;
  failure: FailureContext;
  removedTempDirs: string[];
  warnings: string[];
  warn: (message: string) => void;
  /** This (database, backup directory)'s slot name prefix. */
  prefix: string;
  startedAt: Date;
}

/** Preconditions done by the caller; here: housekeeping, capture (promoted to a full when the chain cannot go on), the slot's advance. */
async function lockedBackup(run: BackupRun): Promise<BackupResult> {
  const { opts, control, prefix, backupDir, info, warn } = run;
  await reconcileSlots(control, prefix, backupDir, info.database);
  // A killed restore or verify on this host left a side database (a full copy of the data): drop it now.
  const swept = await sweepSideDatabases(control).catch(() => null);
  for (const p of swept?.problems ?? []) warn(p);
  let promotedBecause: string | null = null;
  let done: { manifest: Manifest; ctx: RunContext };
  try {
    done = await attemptBackup(run, opts.type);
  } catch (err) {
    if (!(err instanceof IncrementalNeedsFull)) throw err;
    promotedBecause = err.message;
    warn(`taking a full backup instead of an incremental: ${err.message}`);
    if (!opts.startChain) throw new PrerequisiteError('needs_full', err.message, { hint: 'run axisor-db backup --type full' });
    done = await attemptBackup(run, 'full');
  }
  const m = done.manifest;
  if (m.type === 'incremental' && m.slot && m.lsn) await advanceSlot(control, m.slot.name, m.lsn.end);
  if (m.type === 'full' && m.slot) {
    const noId = m.tables.filter((t) => !t.hasIdentity).map((t) => `${t.schema}.${t.name}`);
    if (noId.length > 0) warn(`incremental backups will refuse until these tables have a primary key or replica identity: ${noId.join(', ')}`);
  }
  await reconcileSlots(control, prefix, backupDir, info.database);
  return backupResult(run, m, done.ctx.phases, promotedBecause);
}

/**
 * One backup of type `t` under a temporary name: claim, capture (full or incremental), publish, then keep the
 * chain's slot. On any failure the partial backup and its temporary slot are removed and the error is classified.
 */
async function attemptBackup(run: BackupRun, t: BackupOptions['type']): Promise<{ manifest: Manifest; ctx: RunContext }> {
  const { config, opts, codec, compressorVersion, backupDir, repo, control, info, prefix, warn } = run;
  const id = newBackupId(t, run.startedAt);
  const tmpDir = repo ? backupEntryDir(backupDir, id) : join(backupDir, tempDirName(id));
  if (!repo) await mkdir(tmpDir, { mode: DIR_MODE });
  const ctx: RunContext = { config, opts, codec, compressorVersion, id, tmpDir, startedAt: run.startedAt, warnings: run.warnings, phases: {}, repo: repo ? { repo, prefix: `${id}/` } : null };
  let slotName: string | null = null;
  try {
    if (repo) await claimBackup(repo, id, `backup of ${info.database}`);
    else await claimTempDir(tmpDir);
    let manifest: Manifest;
    if (t === 'incremental') {
      manifest = await writeIncrementalBackup(ctx, { info, control, prefix, catalog: await listCatalog(backupDir) });
    } else {
      if (t === 'full' && opts.startChain) {
        // The publication must exist before the slot: pgoutput looks it up as of each decoded change.
        const blocker = logicalBlocker(info) ?? (await publicationBlocker(control, info.database, true));
        if (!blocker) slotName = newSlotName(prefix, id);
        else if (info.walLevel === 'logical') warn(`this full backup cannot start an incremental chain: ${blocker.message} (${blocker.hint})`);
      }
      manifest = await writeFullBackup(ctx, { info, schemaOnly: t === 'schema-only', slotName });
    }
    if (opts.signal?.aborted) throw new AbortedError('backup interrupted; nothing was published');
    const t0 = await publishBackup(run, ctx, manifest);
    // Only a published backup gets a permanent slot; killed before this line, the server drops the temporary one.
    if (slotName) {
      const name = slotName;
      slotName = null;
      await persistSlot(control, name).catch((e: Error) => warn(`backup ${id} is published, but its chain's slot ${name} could not be kept (${e.message}); incrementals of this chain will ask for a new full backup`));
    }
    ctx.phases.publishMs = Math.round(performance.now() - t0);
    return { manifest, ctx };
  } catch (err) {
    // Classify before removing the partial backup: a full disk must be seen (and its free space measured) full.
    const classified = opts.signal?.aborted && !(err instanceof AxisorError) ? new AbortedError('backup interrupted; nothing was published', { cause: err })
      : err instanceof IncrementalNeedsFull ? err : await classifyFailure(err, run.failure);
    if (slotName) await discardSlot(slotName).catch(() => {});
    if (repo) await repo.deletePrefix(`${id}/`).catch(() => {});
    else await removeDir(tmpDir).catch(() => {});
    throw classified;
  }
}

/**
 * Writes the manifest and publishes the backup: on S3 the manifest put is the publish (only while this run still
 * holds the repository lock); locally the temporary directory is renamed into place. Returns when publishing began.
 */
async function publishBackup(run: BackupRun, ctx: RunContext, manifest: Manifest): Promise<number> {
  const { repo, repoLock, info, backupDir, opts } = run;
  const id = ctx.id;
  let t0 = performance.now();
  if (repo) {
    if (repoLock && !repoLock.held()) throw new LockHeldError(`another run took over the repository lock of ${info.database} in ${backupDir} while this backup ran; nothing was published`, { hint: 'rerun the backup' });
    await putManifest(repo, id, manifest, opts.encryptionKey ?? null);
    ctx.phases.manifestMs = Math.round(performance.now() - t0);
    t0 = performance.now();
    await repo.delete(`${id}/${OWNER_OBJECT}`).catch(() => {});
  } else {
    await writeManifest(ctx.tmpDir, manifest, opts.encryptionKey ?? null);
    ctx.phases.manifestMs = Math.round(performance.now() - t0);
    t0 = performance.now();
    await rm(join(ctx.tmpDir, 'owner.json'), { force: true });
    await publishDir(ctx.tmpDir, join(backupDir, id), backupDir);
  }
  return t0;
}

function backupResult(run: BackupRun, m: Manifest, phases: Record<string, number>, promotedBecause: string | null): BackupResult {
  return {
    id: m.id, type: m.type, requestedType: run.opts.type, promotedBecause, parent: m.parent, database: m.database, dir: backupEntryDir(run.backupDir, m.id),
    compression: m.compression, bytes: m.totals.bytes, rawBytes: m.totals.rawBytes, rows: m.totals.rows, tables: m.tables.length,
    files: m.files.length, durationMs: m.durationMs, slot: m.slot?.name ?? null, lsn: m.lsn, changes: m.changes, removedTempDirs: run.removedTempDirs, warnings: run.warnings,
    phases,
  };
}

/** Before any lock: what dead runs left in the location (unpublished prefixes and uploads on S3, temporary directories locally). */
async function sweepLocation(backupDir: string, repo: Repository | null): Promise<{ removedTempDirs: string[]; startNotes: string[] }> {
  const startNotes: string[] = [];
  if (!repo) {
    await prepareBackupDir(backupDir);
    return { removedTempDirs: await cleanStaleTemps(backupDir), startNotes };
  }
  // Unpublished prefixes of dead writers, then multipart uploads they left (parts are billed until aborted).
  const removedTempDirs = await sweepAbandoned(repo, { isId: isBackupId, manifest: MANIFEST_FILE });
  const cleaned = await repo.cleanupAbandoned({ olderThanMs: 24 * 3_600_000 });
  for (const l of cleaned.leftOver) startNotes.push(`an abandoned multipart upload of ${l.key} could not be aborted here (${l.reason}); a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes it`);
  return { removedTempDirs, startNotes };
}

/**
 * The backup directory exists (created 0700 if missing), is a directory, and this OS user can write to it:
 * otherwise a PathError (73) naming the path and the user, before any connection is made.
 */
export async function prepareBackupDir(backupDir: string): Promise<void> {
  try {
    await ensurePrivateDir(backupDir);
    const st = await stat(backupDir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR', path: backupDir });
    await access(backupDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw pathError(err, backupDir, 'cannot use the backup directory') ?? err;
  }
}

/** Typical backup size as a share of pg_database_size (measured on Axisor data: zstd -1 0.30, gzip 0.39, none 0.75). */
const SIZE_RATIO: Record<string, number> = { zstd: 0.35, gzip: 0.45, none: 0.85, 'schema-only': 0.001 };

/** Pre-flight: about how much the backup needs, and a warning when the backup directory's file system has less free. */
export async function preflightSpace(control: import('pg').Client, backupDir: string, kind: string): Promise<{ needBytes: number; freeBytes: number | null; warning: string | null }> {
  const size = Number((await control.query<{ n: string }>('SELECT pg_database_size(current_database())::text AS n')).rows[0]!.n);
  const needBytes = Math.ceil(size * (SIZE_RATIO[kind] ?? 1)) + 1024 * 1024;
  const free = await freeBytes(backupDir);
  const warning = free !== null && free < needBytes
    ? `the backup needs about ${formatBytes(needBytes)} (database ${formatBytes(size)}, ${kind}) but only ${formatBytes(free)} is free in ${backupDir}; it will likely fail with exit 74`
    : null;
  return { needBytes, freeBytes: free, warning };
}
