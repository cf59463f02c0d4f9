import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who owns a leftover (a passfile directory, a temp directory, a side database): enough to tell, on a later run,
 * whether the owner is still alive. A pid alone is not enough (pids are reused), so the process's start time in
 * clock ticks since boot (/proc/<pid>/stat field 22) and the boot id are recorded too.
 */
export interface OwnerStamp {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id, or null off Linux. */
  boot: string | null;
  /** Start time of the process in clock ticks since boot, or null off Linux. */
  start: string | null;
  startedAt: string;
}

function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null; // field 22 overall = index 19 after pid and comm
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

let self: OwnerStamp | undefined;

export function ownerStamp(): OwnerStamp {
  return (self ??= { pid: process.pid, host: hostname(), boot: bootId(), start: procStart(process.pid), startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString() });
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * False only when the owner is certainly gone: same host, and another boot, or no such pid, or a pid whose start
 * time differs (reused). Another host's owner cannot be checked and counts as alive.
 */
export function ownerAlive(o: Partial<OwnerStamp>): boolean {
  if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 0) return false;
  if (o.host !== undefined && o.host !== hostname()) return true;
  const boot = bootId();
  if (o.boot && boot && o.boot !== boot) return false;
  if (!pidExists(o.pid)) return false;
  if (o.start) {
    const now = procStart(o.pid);
    if (now !== null && now !== o.start) return false;
  }
  return true;
}

/** A file-name-safe tag of the owner: `<pid>-<start ticks>`; parsed back by parseOwnerTag. */
export function ownerTag(): string {
  const s = ownerStamp();
  return `${s.pid}-${s.start ?? '0'}`;
}

export function parseOwnerTag(name: string, prefix: string): Partial<OwnerStamp> | null {
  const m = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-(\\d+)-`).exec(name);
  if (!m) return null;
  return { pid: Number(m[1]), start: m[2] === '0' ? null : m[2]! };
}
