import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortedError, LockHeldError, NoSpaceError, NotFoundError, PathError } from '../errors.ts';
import { checkKey, countingBody, checkLockName, checkPrefix, DEFAULT_STALE_MS, describeHolder, refreshedLock, selfHolder, sleep, uniqueToken, writerGone } from './keys.ts';
import { INTERNAL_PREFIX, type ByteRange, type CleanupOptions, type CleanupReport, type LockHandle, type LockHolder, type LockOptions, type ObjectInfo, type PutOptions, type PutResult, type Repository } from './types.ts';

/** Backups hold the whole database: owner-only, whatever the process umask says (same as src/archive/fsx.ts). */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
const INTERNAL = INTERNAL_PREFIX.slice(0, -1);

/** fsync a file or a directory (a directory fsync makes renames and new entries durable on Linux). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** EACCES, ENOSPC and friends become errors that name the path and the fix instead of exit 70. */
export function localError(err: unknown, path: string, doing: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  const user = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new NoSpaceError('local', `no space left ${doing} ${path}`, { hint: 'free space on that file system or choose another --backup-dir', cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new PathError('permission', `permission denied ${doing} ${path} (as ${user})`, { hint: `give ${user} write access to the directory, or choose another --backup-dir`, cause: err });
  if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST') return new PathError('not_a_directory', `${path} is in the way ${doing} (a file where a directory is needed, or the reverse)`, { hint: 'choose another --backup-dir', cause: err });
  if (code === 'ENOENT') return new PathError('missing_parent', `a directory on the way to ${path} does not exist (${doing})`, { hint: 'create the directory first, or choose another path', cause: err });
  return err as Error;
}

export class LocalRepository implements Repository {
  readonly kind = 'local' as const;
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = root;
  }

  private path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  private internal(...parts: string[]): string {
    return join(this.root, INTERNAL, ...parts);
  }

  /** mkdir -p with owner-only modes, fsyncing each parent whose entries changed so the new directories survive a crash. */
  private async ensureDir(dir: string): Promise<void> {
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    } catch (err) {
      throw localError(err, dir, 'creating');
    }
    if (first) for (let d = dir; ; d = dirname(d)) {
      await fsyncPath(dirname(d));
      if (d === first || dirname(d) === d) break;
    }
  }

  async probe(): Promise<void> {
    await this.ensureDir(this.internal('tmp'));
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<PutResult> {
    checkKey(key);
    const final = this.path(key);
    await this.ensureDir(this.internal('tmp'));
    // The temporary name carries host and pid, so cleanupAbandoned can tell a dead writer's file from a live one's.
    const tmp = this.internal('tmp', `${hostname()}.${process.pid}.${uniqueToken()}`);
    const { src, counter, bytes } = countingBody(body, opts.onBytes);
    try {
      await pipeline(src, counter, createWriteStream(tmp, { mode: FILE_MODE, flags: 'wx' }), opts.signal ? { signal: opts.signal } : {});
      await fsyncPath(tmp);
      await this.ensureDir(dirname(final));
      await rename(tmp, final);
      await fsyncPath(dirname(final));
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      if (opts.signal?.aborted) throw new AbortedError(`write of ${key} aborted`, { cause: err });
      throw localError(err, final, 'writing');
    }
    return { key, bytes: bytes() };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    checkKey(key);
    const path = this.path(key);
    // Open first, so a missing object is a NotFoundError here rather than an 'error' event later.
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('object', `${key} does not exist in ${this.location}`, { hint: 'run `axisor-db backup list` to see the complete backups' });
      throw localError(err, path, 'reading');
    }
    return fh.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 1 << 20 });
  }

  async getBuffer(key: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of await this.get(key)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? { key, bytes: s.size, modifiedAt: s.mtime } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw localError(err, this.path(key), 'reading');
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw localError(err, dir, 'listing');
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        const key = relative(this.root, full).split(sep).join('/');
        if (key === INTERNAL || key.startsWith(INTERNAL_PREFIX)) continue;
        if (e.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(full);
        } else if (e.isFile() && key.startsWith(prefix)) {
          const s = await stat(full).catch(() => null);
          if (s) out.push({ key, bytes: s.size, modifiedAt: s.mtime });
        }
      }
    };
    await walk(base ? this.path(base) : this.root);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await unlink(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw localError(err, this.path(key), 'deleting');
    }
    // Empty directories are not objects; drop them so a deleted backup leaves nothing behind.
    for (let d = dirname(this.path(key)); d !== this.root && d.startsWith(this.root); d = dirname(d)) {
      if (!(await rmdir(d).then(() => true, () => false))) break;
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkPrefix(prefix);
    if (!prefix.endsWith('/') || prefix === '') throw new RangeError(`deletePrefix needs a directory prefix ending in '/', got '${prefix}'`);
    const objects = await this.list(prefix);
    for (const o of objects) await this.delete(o.key);
    await rm(this.path(prefix.slice(0, -1)), { recursive: true, force: true });
    return objects.length;
  }

  async acquireLock(name: string, opts: LockOptions): Promise<LockHandle> {
    checkLockName(name);
    const staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_MS;
    const dir = this.internal('locks');
    await this.ensureDir(dir);
    const path = join(dir, `${name}.lock`);
    const me = { ...selfHolder(opts.label), token: uniqueToken() };
    const deadline = Date.now() + opts.waitMs;
    for (;;) {
      try {
        // O_EXCL create: exactly one run creates the file; the others get EEXIST.
        await writeFile(path, JSON.stringify(me), { mode: FILE_MODE, flag: 'wx' });
        await fsyncPath(path);
        await fsyncPath(dir);
        return this.lockHandle(name, path, me.token, staleAfterMs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw localError(err, path, 'creating the lock');
      }
      const holder = await this.readLock(path);
      if (holder && writerGone(holder.owner, holder.modifiedAt, staleAfterMs)) {
        // Take a dead run's lock over: rename it away first, so two runs taking over at once cannot both succeed.
        await rename(path, `${path}.stale.${uniqueToken()}`).catch(() => {});
        await this.removeStaleLockCopies(dir, name);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LockHeldError(`the lock ${name} in ${this.location} is held by ${describeHolder(holder?.owner ?? null)}`, { hint: 'wait for that run to finish, or raise --wait', details: { holder: holder?.owner ?? null } });
      }
      await sleep(Math.min(200 + Math.random() * 300, Math.max(0, deadline - Date.now())));
    }
  }

  private async removeStaleLockCopies(dir: string, name: string): Promise<void> {
    for (const f of await readdir(dir).catch(() => [] as string[])) if (f.startsWith(`${name}.lock.stale.`)) await rm(join(dir, f), { force: true });
  }

  private async readLock(path: string): Promise<{ owner: (LockHolder & { token: string }) | null; modifiedAt: Date } | null> {
    try {
      for (let attempt = 0; ; attempt++) {
        const [text, s] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        try {
          return { owner: JSON.parse(text), modifiedAt: s.mtime };
        } catch {
          // The holder creates the file (O_EXCL) and then writes it: a file this young may just not be written yet,
          // so read again before judging it, or the run that finds it held could not name its holder.
          if (attempt < 10 && Date.now() - s.mtime.getTime() < 2_000) {
            await sleep(20);
            continue;
          }
          // A lock file cut short by a crash between create and write: judged by its age alone.
          return { owner: null, modifiedAt: s.mtime };
        }
      }
    } catch {
      return null;
    }
  }

  private lockHandle(name: string, path: string, token: string, staleAfterMs: number): LockHandle {
    const stillMine = async () => (await this.readLock(path))?.owner?.token === token;
    // Refresh the lock's mtime so a run on another host sharing this directory does not judge it stale.
    const refresh = async () => {
      if (!(await stillMine())) return 'lost' as const;
      await utimes(path, new Date(), new Date());
    };
    return refreshedLock(name, staleAfterMs, refresh, async () => {
      if (await stillMine()) await rm(path, { force: true });
    });
  }

  async cleanupAbandoned(opts: CleanupOptions): Promise<CleanupReport> {
    const report: CleanupReport = { aborted: [], leftOver: [], notes: [] };
    const dir = this.internal('tmp');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const m = /^(.*)\.(\d+)\.[0-9a-f-]{36}$/.exec(name);
      const s = await stat(join(dir, name)).catch(() => null);
      if (!s) continue;
      if (writerGone(m ? { host: m[1]!, pid: Number(m[2]) } : null, s.mtime, opts.olderThanMs)) {
        await rm(join(dir, name), { force: true });
        report.aborted.push({ key: `${INTERNAL_PREFIX}tmp/${name}`, uploadId: null, via: 'temp-file' });
      }
    }
    return report;
  }

  async close(): Promise<void> {}
}
