import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncPath, localError } from '../storage/local.ts';

/**
 * Writes a metrics file atomically: a temporary file in the same directory (a name node_exporter's textfile
 * collector skips, as it reads only *.prom), fsync, rename over the target, fsync the directory. A scrape sees
 * the old file or the new one, never half of one. Mode 0644: the collector runs as another user, and the
 * metrics hold no secret.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await chmod(tmp, 0o644); // whatever the umask: the collector must read it
    await fsyncPath(tmp);
    await rename(tmp, path);
    await fsyncPath(dirname(path));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw localError(err, path, 'writing');
  }
}
