import { execFileSync } from 'node:child_process';
import { execa, type Options, type ResultPromise } from 'execa';
import { killChildren, liveChildren } from './child-registry.ts';

export { killChildren };

/**
 * Child processes (pg_dump, pg_restore, psql, zstd...) must not outlive axisor-db:
 * - each runs in its own process group (detached), so one kill reaches pg_restore -j's workers too, and every
 *   exit path of this process (normal exit, error, SIGINT/SIGTERM via killChildren) kills the live groups;
 * - kill -9 of axisor-db runs no handler, so on Linux each child is started through `setpriv --pdeathsig KILL`
 *   (util-linux), which makes the kernel send SIGKILL to the child when its parent dies. Workers that the tool
 *   forks itself (pg_restore -j) exit when their leader's pipe closes; server-side work they started ends when the
 *   next run drops the marked side database WITH (FORCE).
 */
let setprivPath: string | null | undefined;

function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform !== 'linux') return null;
  for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) {
    try {
      if (execFileSync(p, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).includes('--pdeathsig')) {
        setprivPath = p;
        break;
      }
    } catch {
      /* not there */
    }
  }
  return setprivPath;
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => killChildren());
}

/** execa with the guarantees above. Same options and result as execa(file, args, options). */
export function spawnChild(file: string, args: readonly string[], options: Options = {}): ResultPromise {
  hookExit();
  const sp = setpriv();
  const child = (sp ? execa(sp, ['--pdeathsig', 'KILL', '--', file, ...args], { ...options, detached: true }) : execa(file, args, { ...options, detached: true })) as ResultPromise;
  liveChildren.add(child);
  const forget = () => liveChildren.delete(child);
  child.then(forget, forget);
  return child;
}
