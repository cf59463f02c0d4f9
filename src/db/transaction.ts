import type pg from 'pg';
import { DatabaseError } from '../errors.ts';
import { toDatabaseError } from './errors.ts';

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  /** Upper bound for the whole transaction in ms: each statement gets the remaining time (SET LOCAL statement_timeout). */
  timeoutMs?: number;
  /** lock_timeout inside the transaction, ms. */
  lockTimeoutMs?: number;
}

type Queryable = pg.Client | pg.PoolClient;

function isPool(x: pg.Pool | Queryable): x is pg.Pool {
  return typeof (x as pg.Pool).totalCount === 'number';
}

/**
 * BEGIN ... COMMIT around `fn`, ROLLBACK on any error (the original error wins over a rollback failure).
 * Accepts a client, or a pool from which it checks out (and releases) one client.
 */
export async function withTransaction<T>(target: pg.Pool | Queryable, opts: TransactionOptions, fn: (client: Queryable) => Promise<T>): Promise<T> {
  if (isPool(target)) {
    const client = await target.connect();
    let broken = false;
    try {
      return await withTransaction(client, opts, fn);
    } catch (err) {
      broken = (err as { code?: string })?.code === '57P01';
      throw err;
    } finally {
      client.release(broken);
    }
  }
  const client = target;
  const modes = [opts.isolationLevel ? `ISOLATION LEVEL ${opts.isolationLevel.toUpperCase()}` : '', opts.readOnly ? 'READ ONLY' : ''].filter(Boolean).join(' ');
  const started = Date.now();
  await client.query(`BEGIN${modes ? ` ${modes}` : ''}`);
  try {
    if (opts.timeoutMs) await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(opts.timeoutMs)]);
    if (opts.lockTimeoutMs !== undefined) await client.query(`SELECT set_config('lock_timeout', $1, true)`, [String(opts.lockTimeoutMs)]);
    const result = await fn(client);
    if (opts.timeoutMs && Date.now() - started > opts.timeoutMs) {
      throw new DatabaseError(`transaction exceeded its ${opts.timeoutMs} ms timeout and was rolled back`, { sqlState: '57014', hint: 'raise the timeout' });
    }
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw (err as { exitCode?: number })?.exitCode !== undefined ? err : Object.assign(toDatabaseError(err), { cause: err });
  }
}
