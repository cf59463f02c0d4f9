import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { IntegrityError } from '../errors.ts';
import type { ProgressFn } from '../progress.ts';
import { sha256File } from './fsx.ts';
import type { Manifest } from './manifest.ts';
import { isRemoteDir, readStored, storedSize } from './repo.ts';

export interface ChecksumReport {
  id: string;
  files: number;
  bytes: number;
  bad: Array<{ path: string; problem: string }>;
}

/** Re-reads every file of a backup and compares size and sha256 with the manifest. */
export async function checkFiles(dir: string, m: Manifest, onProgress?: ProgressFn): Promise<ChecksumReport> {
  const bad: ChecksumReport['bad'] = [];
  let bytes = 0;
  if (isRemoteDir(dir)) return checkRemoteFiles(dir, m, onProgress);
  const root = await realpath(dir);
  for (const f of m.files) {
    try {
      // A symlink inside the backup must not make us read (and trust) a file outside it.
      const real = await realpath(join(dir, f.path));
      if (!real.startsWith(root + sep)) {
        bad.push({ path: f.path, problem: 'resolves outside the backup directory (symlink)' });
        continue;
      }
      const got = await sha256File(real);
      bytes += got.bytes;
      if (got.bytes !== f.bytes) bad.push({ path: f.path, problem: `size ${got.bytes}, manifest says ${f.bytes}` });
      else if (got.sha256 !== f.sha256) bad.push({ path: f.path, problem: 'sha256 differs from the manifest' });
    } catch (err) {
      bad.push({ path: f.path, problem: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message });
    }
    onProgress?.({ phase: 'checksums', done: bytes, total: m.files.reduce((n, x) => n + x.bytes, 0), unit: 'bytes', message: m.id });
  }
  return { id: m.id, files: m.files.length, bytes, bad };
}

/** Checks a whole chain and throws IntegrityError (exit 65) naming the damaged files. */
export async function assertChainIntact(chain: Array<{ dir: string; manifest: Manifest }>, onProgress?: ProgressFn): Promise<ChecksumReport[]> {
  const reports: ChecksumReport[] = [];
  for (const link of chain) reports.push(await checkFiles(link.dir, link.manifest, onProgress));
  const bad = reports.flatMap((r) => r.bad.map((b) => `${r.id}/${b.path}: ${b.problem}`));
  if (bad.length > 0) {
    throw new IntegrityError('checksum', `backup files fail their checksums: ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? ` (+${bad.length - 5} more)` : ''}`, {
      hint: 'this backup cannot be trusted; restore an older one (axisor-db backup list) and take a new full backup',
      details: { bad },
    });
  }
  return reports;
}

/** The same check on an S3 location: every object's stored bytes are streamed and hashed (no key needed). */
async function checkRemoteFiles(dir: string, m: Manifest, onProgress?: ProgressFn): Promise<ChecksumReport> {
  const bad: ChecksumReport['bad'] = [];
  let bytes = 0;
  for (const f of m.files) {
    const size = await storedSize(dir, f.path);
    if (size === null) {
      bad.push({ path: f.path, problem: 'missing' });
      continue;
    }
    const hash = createHash('sha256');
    let n = 0;
    for await (const c of await readStored(dir, f.path)) {
      hash.update(c as Buffer);
      n += (c as Buffer).length;
    }
    bytes += n;
    if (n !== f.bytes) bad.push({ path: f.path, problem: `size ${n}, manifest says ${f.bytes}` });
    else if (hash.digest('hex') !== f.sha256) bad.push({ path: f.path, problem: 'sha256 differs from the manifest' });
    onProgress?.({ phase: 'checksums', done: bytes, total: m.files.reduce((t, x) => t + x.bytes, 0), unit: 'bytes', message: m.id });
  }
  return { id: m.id, files: m.files.length, bytes, bad };
}
