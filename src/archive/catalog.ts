import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AxisorError, IntegrityError, NotFoundError, PathError, UsageError } from '../errors.ts';
import { pathError } from './classify.ts';
import { isBackupId } from './id.ts';
import { processAlive, removeDir, writeFileDurable } from './fsx.ts';
import { MANIFEST_FILE, readManifest, type Manifest } from './manifest.ts';
import { isRemoteDir, repoAt } from './repo.ts';
import { listBackupPrefixes } from '../storage/publish.ts';
import { ownerAlive, ownerTag, parseOwnerTag } from '../pgtools/owner.ts';

/** A backup is written under this prefix and renamed when complete; list and restore never look at these. */
export const TMP_PREFIX = '.tmp-';
const OWNER_FILE = 'owner.json';

export interface CatalogEntry {
  id: string;
  dir: string;
  manifest: Manifest | null;
  /** Why the entry cannot be used (damaged manifest): listed so nobody mistakes it for good. */
  problem: string | null;
}

/** Every published backup in the directory, oldest first. Temporary directories of running or dead runs are skipped. */
export async function listCatalog(backupDir: string): Promise<CatalogEntry[]> {
  let names: string[];
  const remote = repoAt(backupDir);
  if (remote) {
    // Only published backups (a manifest exists): a prefix without one is a run in progress or one that died.
    names = (await listBackupPrefixes(remote, { isId: isBackupId, manifest: MANIFEST_FILE })).filter((p) => p.published).map((p) => p.id);
  } else {
    try {
      names = await readdir(backupDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
  const entries: CatalogEntry[] = [];
  for (const id of names.filter(isBackupId).sort()) {
    const dir = backupEntryDir(backupDir, id);
    try {
      entries.push({ id, dir, manifest: await readManifest(dir, id), problem: null });
    } catch (err) {
      entries.push({ id, dir, manifest: null, problem: err instanceof AxisorError ? err.message : String(err) });
    }
  }
  // Ids carry whole seconds only: two backups in one second would sort by their random suffix. Order by the
  // manifest's start time (milliseconds), falling back to the id's own second for a damaged manifest.
  const key = (e: CatalogEntry) => {
    const t = e.manifest ? Date.parse(e.manifest.startedAt) : NaN;
    if (Number.isFinite(t)) return t;
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(e.id)!;
    return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  };
  return entries.sort((a, b) => key(a) - key(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The backup directory must exist for list, show, verify, prune and restore: a typo in --backup-dir is "does not
 * exist" (66), never an empty catalog (exit 0) or "no backup of X".
 */
export async function requireBackupDir(backupDir: string): Promise<void> {
  if (isRemoteDir(backupDir)) return; // probed when the command opened it (a missing bucket is 66 there)
  let st;
  try {
    st = await stat(backupDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError('backup_dir', `the backup directory ${backupDir} does not exist`, { hint: 'check --backup-dir (or AXISOR_BACKUP_DIR); `axisor-db backup` creates it' });
    throw pathError(err, backupDir, 'cannot read the backup directory') ?? err;
  }
  if (!st.isDirectory()) throw new PathError('not_a_directory', `the backup directory ${backupDir} is a file, not a directory`, { hint: 'check --backup-dir (or AXISOR_BACKUP_DIR)' });
}

export async function findBackup(backupDir: string, id: string): Promise<{ dir: string; manifest: Manifest }> {
  if (!isBackupId(id)) throw new UsageError(`'${id}' is not a backup id (like 20250126T020000Z-full-1a2b)`, { hint: 'run `axisor-db backup list` for the ids' });
  await requireBackupDir(backupDir);
  const dir = backupEntryDir(backupDir, id);
  try {
    return { dir, manifest: await readManifest(dir, id) };
  } catch (err) {
    if ((err as AxisorError).code === 'not_found.backup_manifest') {
      throw new NotFoundError('backup', `backup ${id} does not exist in ${backupDir}`, { hint: 'run `axisor-db backup list`, or pass --backup-dir' });
    }
    throw err;
  }
}

/**
 * The newest usable backup that holds data (optionally of one database). Schema-only backups are never "latest":
 * restoring one gives an empty database; they are restored by id only.
 */
export async function findLatest(backupDir: string, database?: string): Promise<{ dir: string; manifest: Manifest }> {
  await requireBackupDir(backupDir);
  const all = (await listCatalog(backupDir)).filter((e) => e.manifest && (!database || e.manifest.database === database));
  const data = all.filter((e) => e.manifest!.type !== 'schema-only');
  const last = data[data.length - 1];
  if (!last) {
    const schemaOnly = all.length - data.length;
    throw new NotFoundError('backup', `no backup with data${database ? ` of ${database}` : ''} in ${backupDir}${schemaOnly ? ` (${schemaOnly} schema-only backup(s) are not restore points)` : ''}`, {
      hint: schemaOnly ? 'take one with `axisor-db backup --type full`, or restore a schema-only backup by its id' : 'take one with `axisor-db backup --type full`',
    });
  }
  return { dir: last.dir, manifest: last.manifest! };
}

/** The chain that restores `id`: its full backup first, then each incremental up to and including `id`. */
export async function resolveChain(backupDir: string, id: string): Promise<Array<{ dir: string; manifest: Manifest }>> {
  const chain: Array<{ dir: string; manifest: Manifest }> = [];
  let cur: string | null = id;
  while (cur) {
    let link: { dir: string; manifest: Manifest };
    try {
      link = await findBackup(backupDir, cur);
    } catch (err) {
      if (chain.length > 0 && (err as AxisorError).code === 'not_found.backup') {
        throw new IntegrityError('chain_broken', `backup ${chain[0]!.manifest.id} needs ${cur}, which is missing`, { hint: 'the chain is broken; restore an earlier backup or take a new full backup' });
      }
      throw err;
    }
    chain.unshift(link);
    if (chain.length > 10_000) throw new IntegrityError('chain_loop', `the chain of ${id} loops`);
    cur = link.manifest.parent;
  }
  return chain;
}

/** Where a backup's files are: a directory, or s3://bucket/prefix/<id> in an S3 location. */
export function backupEntryDir(backupDir: string, id: string): string {
  return isRemoteDir(backupDir) ? `${backupDir.replace(/\/+$/, '')}/${id}` : join(backupDir, id);
}

/** Eight hex digits of this host's name: which host's processes a temporary directory's owner tag refers to. */
function hostTag(): string {
  return createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
}

/**
 * The name of a local backup's temporary directory: `.tmp-<pid>-<start ticks>-<host>-<id>`. The writer is in the
 * name, so the one mkdir makes the directory and its owner appear together: a run killed at any instant (even
 * before it wrote owner.json) leaves a directory the next run can judge at once (cleanStaleTemps).
 */
export function tempDirName(id: string): string {
  return `${TMP_PREFIX}${ownerTag()}-${hostTag()}-${id}`;
}

/** Marks a temporary directory with the pid that writes it, so a later run can tell a dead run's leftovers. */
export async function claimTempDir(tmpDir: string): Promise<void> {
  await writeFileDurable(join(tmpDir, OWNER_FILE), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }));
}

/** Removes temporary directories whose writer is gone (killed, crashed). Returns what it removed. */
export async function cleanStaleTemps(backupDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(backupDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => n.startsWith(TMP_PREFIX))) {
    const dir = join(backupDir, name);
    let alive: boolean;
    const tagged = parseOwnerTag(name, TMP_PREFIX);
    const host = /^\.tmp-\d+-\d+-([0-9a-f]{8})-/.exec(name)?.[1];
    // Named by tempDirName: judged by its name (another host's runs cannot be checked here: left to them).
    if (tagged && host) alive = host !== hostTag() || ownerAlive(tagged);
    else try {
      const owner = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as { pid?: number; host?: string };
      // Another host sharing the directory: its runs cannot be checked, so only its own runs clean up after it.
      alive = owner.host !== hostname() || (owner.pid !== undefined && processAlive(owner.pid));
    } catch {
      // Older names (and prune's .tmp-deleting-): no owner file means a run just starting, or one killed in that
      // instant. Give it a minute.
      alive = await stat(dir).then((s) => Date.now() - s.mtimeMs < 60_000, () => false);
    }
    if (!alive) {
      await removeDir(dir);
      removed.push(name);
    }
  }
  return removed;
}
