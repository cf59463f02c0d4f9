import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { AxisorConfig } from '../config/types.ts';
import { ConfigError } from '../errors.ts';
import type { Repository } from '../storage/types.ts';

/**
 * Backup locations that are not a local directory (s3://bucket/prefix/). A local backup directory keeps its
 * path-based code (temporary directory, fsync, atomic rename); an S3 location goes through a Repository
 * (src/storage), opened once per process by the command that runs (openBackupLocation) and found here by URL.
 * A backup's `dir` in an S3 location is `s3://bucket/prefix/<id>`: every read below takes such a dir or a path.
 */
const repos = new Map<string, Repository>();

export function isRemoteDir(dir: string): boolean {
  return /^s3:\/\//i.test(dir);
}

/**
 * Opens the repository of an S3 backup location (the AWS SDK is imported only then) and probes it: a missing
 * bucket, bad credentials or an unreachable endpoint fail here, naming which. Local directories: nothing to do.
 */
export async function openBackupLocation(config: Pick<AxisorConfig, 'backupLocation' | 's3File'>, env: Readonly<Record<string, string | undefined>>): Promise<Repository | null> {
  const loc = config.backupLocation;
  if (!loc || loc.kind !== 's3') return null;
  const known = repos.get(loc.url);
  if (known) return known;
  const { openRepository } = await import('../storage/index.ts');
  const repo = openRepository({ location: loc, env, s3File: config.s3File });
  await repo.probe();
  repos.set(loc.url, repo);
  return repo;
}

/** For tests and benchmarks that open their own repository. */
export function registerRepository(repo: Repository): void {
  repos.set(repo.location, repo);
}

export async function closeBackupLocations(): Promise<void> {
  for (const r of repos.values()) await r.close().catch(() => {});
  repos.clear();
}

/** The repository of an s3:// location and the key of `rel` inside it. */
export function resolveRemote(dirOrUrl: string, rel = ''): { repo: Repository; key: string } {
  const url = rel ? `${dirOrUrl.replace(/\/+$/, '')}/${rel}` : dirOrUrl;
  for (const [loc, repo] of repos) if (url.startsWith(loc)) return { repo, key: url.slice(loc.length) };
  throw new ConfigError('s3_not_open', `no open repository for ${url}`, { hint: 'this is a bug: the command did not open its backup location' });
}

/** The repository of a backup location (the backupDir value), or null for a local directory. */
export function repoAt(backupDir: string): Repository | null {
  return isRemoteDir(backupDir) ? resolveRemote(backupDir).repo : null;
}

/** `${dir}/${rel}` for messages (a path locally, a URL on S3). */
export function storedName(dir: string, rel: string): string {
  return isRemoteDir(dir) ? `${dir.replace(/\/+$/, '')}/${rel}` : join(dir, rel);
}

/** A backup file's stored bytes (as written: compressed, encrypted), streamed. */
export async function readStored(dir: string, rel: string, range?: { start: number; end?: number }): Promise<Readable> {
  if (!isRemoteDir(dir)) return createReadStream(join(dir, rel), { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) });
  const { repo, key } = resolveRemote(dir, rel);
  return repo.get(key, range);
}

/** A small backup file whole (manifest, its checksum and MAC). ENOENT-like: an error with code 'ENOENT'. */
export async function readStoredBuffer(dir: string, rel: string): Promise<Buffer> {
  if (!isRemoteDir(dir)) return readFile(join(dir, rel));
  const { repo, key } = resolveRemote(dir, rel);
  const info = await repo.stat(key);
  if (!info) throw Object.assign(new Error(`${storedName(dir, rel)} does not exist`), { code: 'ENOENT' });
  return repo.getBuffer(key);
}

/** Size of a stored file, or null if it does not exist. */
export async function storedSize(dir: string, rel: string): Promise<number | null> {
  if (!isRemoteDir(dir)) return stat(join(dir, rel)).then((s) => s.size, () => null);
  const { repo, key } = resolveRemote(dir, rel);
  return (await repo.stat(key))?.bytes ?? null;
}
