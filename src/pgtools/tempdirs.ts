import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownerAlive, ownerTag, parseOwnerTag } from './owner.ts';

/** Prefixes of the private temporary directories axisor-db creates under the OS temp directory. */
export const TEMP_PREFIXES = ['axisor-pass-', 'axisor-toc-'] as const;
export type TempPrefix = (typeof TEMP_PREFIXES)[number];

/** Directories from versions that did not tag them with their owner: removed once they are this old. */
const UNTAGGED_MAX_AGE_MS = 6 * 3600_000;

/**
 * A private (0700) directory named `<prefix><pid>-<start ticks>-XXXXXX`, so a later run can tell a killed
 * owner's leftovers from a running one's (sweepTempDirs).
 */
export function makeOwnedTempDir(prefix: TempPrefix, base = tmpdir()): string {
  return mkdtempSync(join(base, `${prefix}${ownerTag()}-`));
}

/**
 * Removes our own leftovers of dead runs (kill -9, OOM, power loss): directories with one of our prefixes, owned
 * by this OS user, whose owner process is gone. Never touches a live run's directory. Returns what it removed.
 */
export function sweepTempDirs(base = tmpdir()): string[] {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return [];
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const removed: string[] = [];
  for (const name of names) {
    const prefix = TEMP_PREFIXES.find((p) => name.startsWith(p));
    if (!prefix) continue;
    const path = join(base, name);
    try {
      const st = statSync(path);
      if (!st.isDirectory() || (uid !== null && st.uid !== uid)) continue;
      const owner = parseOwnerTag(name, prefix);
      const dead = owner ? !ownerAlive(owner) : Date.now() - st.mtimeMs > UNTAGGED_MAX_AGE_MS;
      if (!dead) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      /* gone meanwhile, or not ours to remove */
    }
  }
  return removed;
}

let swept = false;

/** sweepTempDirs once per process (cheap: one readdir of the temp directory). */
export function sweepTempDirsOnce(): void {
  if (swept) return;
  swept = true;
  sweepTempDirs();
}
