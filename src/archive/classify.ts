import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import { AxisorError, ConnectionError, NoSpaceError, PathError, ToolError } from '../errors.ts';
import { formatBytes } from '../format.ts';

/**
 * Turns the ways a backup or restore fails because of its surroundings (a full disk, an unwritable directory, a
 * server that restarts) into their documented exit codes (74, 73, 68) instead of "internal error" (70).
 */

export function osUser(): string {
  try {
    const u = userInfo();
    return `${u.username} (uid ${u.uid})`;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** Free bytes for an unprivileged writer on the file system holding `path` (or its nearest existing parent). */
export async function freeBytes(path: string): Promise<number | null> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      if (dirname(p) === p) return null;
    }
  }
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;
const NO_SPACE_TEXT = /No space left on device|Disk quota exceeded|ENOSPC|EDQUOT/i;
/** libpq / node-postgres wording when the server goes away mid-run (restart, crash, pg_terminate_backend). */
const LOST_TEXT = /server closed the connection unexpectedly|terminating connection due to administrator command|Connection terminated unexpectedly|connection error and is not queryable|the database system is (shutting down|in recovery mode|starting up|not yet accepting connections)|could not receive data from server|no connection to the server|could not connect to server|connection to server .* failed|Connection terminated|ECONNRESET|ECONNREFUSED/i;
const LOST_STATES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006']);

export function isConnectionLost(err: unknown): boolean {
  if (err instanceof AxisorError) {
    if (err.code.startsWith('connection.')) return false; // already classified
    const tail = (err as { stderrTail?: string }).stderrTail ?? '';
    return err instanceof ToolError ? LOST_TEXT.test(tail) || LOST_TEXT.test(err.message) : (err.code.startsWith('database') && (LOST_STATES.has(String((err as { sqlState?: string }).sqlState)) || LOST_TEXT.test(err.message)));
  }
  const e = err as { code?: string; message?: string } | undefined;
  return (e?.code !== undefined && (LOST_STATES.has(e.code) || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(e.code) && /connect|socket/i.test(String(e.message)))) || LOST_TEXT.test(String(e?.message ?? ''));
}

/** A local full disk. A server's full disk ("could not extend file") stays the server's error (71/72). */
function isNoSpace(err: unknown, writesLocally: boolean): boolean {
  const c = errno(err);
  if (c === 'ENOSPC' || c === 'EDQUOT') return true;
  if (!writesLocally || !(err instanceof ToolError)) return false;
  return NO_SPACE_TEXT.test(err.stderrTail ?? '') || NO_SPACE_TEXT.test(err.message);
}

/** EACCES and friends on `path`: a PathError naming the path and the OS user, or null. */
export function pathError(err: unknown, path: string, what: string): PathError | null {
  const c = errno(err);
  const p = (err as NodeJS.ErrnoException)?.path ?? path;
  const fix = `fix the ownership/permissions (chown/chmod) or choose another --backup-dir`;
  switch (c) {
    case 'EACCES':
    case 'EPERM':
      return new PathError('permission', `${what} ${p}: permission denied for OS user ${osUser()}`, { hint: fix, cause: err });
    case 'EROFS':
      return new PathError('read_only', `${what} ${p}: the file system is read-only`, { hint: 'choose another --backup-dir', cause: err });
    case 'ENOTDIR':
    case 'EEXIST':
      return new PathError('not_a_directory', `${what} ${p}: it (or a parent) is a file, not a directory`, { hint: 'choose another --backup-dir, or move the file away', cause: err });
    case 'ENOENT':
      return new PathError('missing', `${what} ${p}: a parent directory does not exist`, { hint: 'create it first, or choose another --backup-dir', cause: err });
    default:
      return null;
  }
}

export interface FailureContext {
  /** The directory being written (backup dir) whose file system may be full. */
  dir?: string;
  /** About how many bytes the operation needs, when known. */
  needBytes?: number | null;
  /** 'backup of axisor', 'restore into x'... */
  what: string;
  /** Server address for connection errors. */
  server?: string;
  /** What the failure left behind, e.g. 'nothing was published' or 'the target was not changed'. */
  outcome: string;
  /** The run had connected: connection errors from now on mean the server went away. */
  connected?: boolean;
}

/**
 * Classifies a failure. Errors that already carry a meaningful code pass through; a full disk becomes 74 (also a
 * compressor's EPIPE when the disk it writes to turned out full), a local path problem 73, a server that went away
 * mid-run 68 (connection.lost). Anything else is returned unchanged.
 */
export async function classifyFailure(err: unknown, ctx: FailureContext): Promise<unknown> {
  // Once the run is connected, a refused/reset connection (a tool or a new session during a server restart) means
  // the server went away mid-run, whatever the connect-time wording would be.
  if (ctx.connected && err instanceof ConnectionError && /^connection\.(reset|refused|terminated|starting|no_socket|timeout|unreachable)$/.test(err.code)) {
    return new ConnectionError('lost', `the connection to the server${ctx.server ? ` at ${ctx.server}` : ''} was lost during the ${ctx.what} (${err.message}); ${ctx.outcome}`, {
      hint: 'the server restarted or terminated the session; check the server log, then rerun',
      cause: err,
    });
  }
  if (err instanceof AxisorError && /^(connection|no_space|path|privilege|lock|aborted|refused|usage|config|not_found|integrity)\b/.test(err.code)) return err;
  const free = ctx.dir ? await freeBytes(ctx.dir) : null;
  const almostFull = free !== null && free < 1024 * 1024;
  if (isNoSpace(err, Boolean(ctx.dir)) || (ctx.dir && almostFull && (errno(err) === 'EPIPE' || err instanceof ToolError || errno(err) === 'ERR_STREAM_PREMATURE_CLOSE'))) {
    const need = ctx.needBytes ? `; it needs about ${formatBytes(ctx.needBytes)}` : '';
    return new NoSpaceError('disk_full', `no space left on the file system of ${ctx.dir ?? 'the output'} during the ${ctx.what}: ${free === null ? 'unknown' : formatBytes(free)} free${need}; ${ctx.outcome}`, {
      hint: 'free space there (axisor-db backup prune), or choose another --backup-dir',
      cause: err,
      details: { freeBytes: free, needBytes: ctx.needBytes ?? null },
    });
  }
  if (isConnectionLost(err)) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return new ConnectionError('lost', `the connection to the server${ctx.server ? ` at ${ctx.server}` : ''} was lost during the ${ctx.what} (${msg}); ${ctx.outcome}`, {
      hint: 'the server restarted or terminated the session; check the server log, then rerun',
      cause: err,
    });
  }
  if (ctx.dir) {
    const p = pathError(err, ctx.dir, 'cannot write');
    if (p) return p;
  }
  return err;
}
