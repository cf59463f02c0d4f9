import { createHash } from 'node:crypto';
import type pg from 'pg';
import { LockHeldError } from '../errors.ts';

export interface LockHolder {
  pid: number;
  applicationName: string | null;
  state: string | null;
  query: string | null;
  backendStart: string | null;
  /** Seconds since the holder's backend started. */
  ageSeconds: number | null;
}

export interface AdvisoryLockOptions {
  /** How long to keep trying, ms. 0 = try once. */
  timeoutMs: number;
  pollMs?: number;
  /** Human label for messages, e.g. 'migrate' or 'backup of axisor'. */
  label: string;
  /** Flag that raises the wait, named in the error hint (e.g. '--lock-timeout' or '--wait'). */
  waitFlag?: string;
}

/** A stable signed 64-bit lock key from a name (first 8 bytes of sha256). */
export function advisoryKey(name: string | bigint | number): bigint {
  if (typeof name === 'bigint') return name;
  if (typeof name === 'number') return BigInt(name);
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

/**
 * Session-level pg_try_advisory_lock, polled until the deadline (never a blocking pg_advisory_lock,
 * which would queue invisibly and could not time out cleanly). The lock dies with the session, so a killed
 * process never leaves it behind. On timeout the error reports who holds it.
 */
export async function withAdvisoryLock<T>(client: pg.Client | pg.PoolClient, key: string | bigint | number, opts: AdvisoryLockOptions, fn: () => Promise<T>): Promise<T> {
  const k = advisoryKey(key).toString();
  const deadline = Date.now() + opts.timeoutMs;
  const poll = opts.pollMs ?? 250;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [k]);
    if (rows[0]?.ok) break;
    if (Date.now() >= deadline) {
      const holder = await findLockHolder(client, k);
      const who = holder
        ? `pid ${holder.pid}${holder.applicationName ? ` (${holder.applicationName})` : ''}, ${holder.state ?? 'unknown state'}, running for ${holder.ageSeconds ?? '?'} s`
        : 'another session';
      throw new LockHeldError(`${opts.label}: lock held by ${who}`, {
        hint: `wait for it to finish${opts.waitFlag ? `, or raise ${opts.waitFlag}` : ''}; SELECT pg_terminate_backend(${holder?.pid ?? 'pid'}) only if it is stuck`,
        details: holder ? { holder } : undefined,
      });
    }
    await new Promise((r) => setTimeout(r, Math.min(poll, Math.max(1, deadline - Date.now()))));
  }
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [k]).catch(() => {});
  }
}

/** Who holds advisory lock `key` (int8 locks show as classid = high 32 bits, objid = low 32 bits, objsubid = 1). */
export async function findLockHolder(client: pg.Client | pg.PoolClient, key: string | bigint | number): Promise<LockHolder | null> {
  const k = advisoryKey(typeof key === 'string' && /^-?\d+$/.test(key) ? BigInt(key) : key);
  const hi = Number(BigInt.asUintN(64, k) >> 32n);
  const lo = Number(BigInt.asUintN(64, k) & 0xffffffffn);
  const { rows } = await client.query<LockHolder>(
    `SELECT a.pid, a.application_name AS "applicationName", a.state, left(a.query, 200) AS query,
            a.backend_start::text AS "backendStart",
            round(extract(epoch FROM now() - a.backend_start))::int AS "ageSeconds"
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
      LIMIT 1`,
    [hi, lo],
  );
  return rows[0] ?? null;
}
