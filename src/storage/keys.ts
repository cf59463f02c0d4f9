import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { UsageError } from '../errors.ts';
import { INTERNAL_PREFIX, type LockHandle, type LockHolder } from './types.ts';

/** Refuses keys that could escape the root or collide with the repository's own area. */
export function checkKey(key: string): string {
  const bad = key === '' || key.startsWith('/') || key.endsWith('/') || key.includes('\\') || key.includes('\0')
    || key.split('/').some((s) => s === '' || s === '.' || s === '..') || key.startsWith(INTERNAL_PREFIX);
  if (bad) throw new UsageError(`'${key}' is not a valid repository key`, { hint: 'this is a bug in the caller: keys are relative, /-separated, without . or .. segments' });
  return key;
}

/** A prefix is '' or ends in '/' for directory semantics; any other string is a key prefix. */
export function checkPrefix(prefix: string): string {
  if (prefix.startsWith('/') || prefix.includes('\\') || prefix.split('/').some((s) => s === '.' || s === '..') || prefix.startsWith(INTERNAL_PREFIX)) {
    throw new UsageError(`'${prefix}' is not a valid repository prefix`);
  }
  return prefix;
}

export function checkLockName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name)) throw new UsageError(`'${name}' is not a valid lock name`);
  return name;
}

export const DEFAULT_STALE_MS = 10 * 60_000;

/** Who we are, recorded in locks, upload markers and temporary names. */
export function selfHolder(label?: string): LockHolder {
  return { host: hostname(), pid: process.pid, label: label ?? null, startedAt: new Date().toISOString() };
}

export function uniqueToken(): string {
  return randomUUID();
}

/** True if a process with this pid exists (EPERM means it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a lock, marker or temporary file's writer is gone: on this host we ask the kernel; a writer on another
 * host is presumed dead only when it stopped refreshing for `staleAfterMs`.
 */
export function writerGone(owner: { host?: string; pid?: number } | null, modifiedAt: Date, staleAfterMs: number, now = Date.now()): boolean {
  if (owner && owner.host === hostname() && typeof owner.pid === 'number') return !processAlive(owner.pid);
  return now - modifiedAt.getTime() > staleAfterMs;
}

export function describeHolder(h: Partial<LockHolder> | null): string {
  if (!h) return 'an unknown run';
  return `${h.label ? `${h.label}, ` : ''}pid ${h.pid ?? '?'} on ${h.host ?? '?'} since ${h.startedAt ?? '?'}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * What every put does first: the body as a stream, and a pass-through that counts its bytes (reported to onBytes as
 * they pass). `bytes()` is the total once the stream has been consumed.
 */
export function countingBody(body: Readable | Buffer | string, onBytes?: (bytes: number) => void): { src: Readable; counter: Transform; bytes: () => number } {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      onBytes?.(bytes);
      cb(null, chunk);
    },
  });
  const src = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
  return { src, counter, bytes: () => bytes };
}

/**
 * A held lock, kept fresh: `refresh` runs every staleAfterMs / 3 (so no other run judges the lock stale) and
 * returns 'lost' once the lock is no longer ours (another run judged us dead and took it over); a refresh that
 * fails is tried again next round. `remove` runs once, on release.
 */
export function refreshedLock(name: string, staleAfterMs: number, refresh: () => Promise<'lost' | void>, remove: () => Promise<void>): LockHandle {
  let lost = false;
  let released = false;
  const timer = setInterval(() => {
    void refresh().then((r) => {
      if (r === 'lost') lost = true;
    }, () => {});
  }, Math.max(1000, staleAfterMs / 3));
  timer.unref();
  return {
    name,
    held: () => !lost && !released,
    release: async () => {
      if (released) throw new Error(`lock ${name} released twice`);
      released = true;
      clearInterval(timer);
      await remove();
    },
  };
}
