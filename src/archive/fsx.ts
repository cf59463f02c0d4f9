import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncPath } from '../storage/local.ts';

// One copy each, in src/storage (the lower layer); re-exported for the backup modules that import them from here.
export { fsyncPath } from '../storage/local.ts';
export { processAlive } from '../storage/keys.ts';

/** Backups hold the whole database: owner-only, whatever the process umask says. */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: DIR_MODE });
}

/** Writes a small file and fsyncs it before returning. */
export async function writeFileDurable(path: string, data: string | Buffer): Promise<void> {
  await writeFile(path, data, { mode: FILE_MODE });
  await fsyncPath(path);
}

/** sha256 and size of a file, read once. */
export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * The atomic finish: every file was fsynced as it was written; now fsync the temporary directory, rename it to
 * its final name and fsync the parent, so after a crash the backup either exists complete or not at all.
 */
export async function publishDir(tmpDir: string, finalDir: string, parent: string): Promise<void> {
  await fsyncSubdirs(tmpDir);
  await rename(tmpDir, finalDir);
  await fsyncPath(parent);
}

async function fsyncSubdirs(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await fsyncSubdirs(join(dir, e.name));
  await fsyncPath(dir);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

