import type pg from 'pg';
import { DatabaseError } from '../errors.ts';
import { toDatabaseError } from './errors.ts';
import { quoteIdent, quoteLiteral } from './ident.ts';

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  /** DEFERRABLE: with SERIALIZABLE READ ONLY, waits for a safe snapshot and then never fails on serialization. */
  deferrable?: boolean;
  /**
   * Adopt a snapshot another session exported (pg_export_snapshot() or a replication slot's EXPORT_SNAPSHOT), so
   * this transaction sees exactly that session's view. Needs REPEATABLE READ or SERIALIZABLE, and the exporter's
   * transaction must still be open.
   */
  snapshot?: string;
  /**
   * Session settings (e.g. `SET client_encoding ...`) sent in the same round trip just before BEGIN, so a
   * short-lived connection (one COPY stream) opens its transaction in one round trip. Trusted SQL text only.
   */
  sessionSql?: string;
  /** Upper bound for the whole transaction in ms: each statement gets the remaining time (SET LOCAL statement_timeout). */
  timeoutMs?: number;
  /** lock_timeout inside the transaction, ms. */
  lockTimeoutMs?: number;
  /**
   * ROLLBACK instead of COMMIT when `fn` succeeds, and return its result: a dry run does all the work and leaves
   * nothing behind; a read-only probe releases its locks at once.
   */
  rollbackAtEnd?: boolean;
  /**
   * false: rethrow `fn`'s error exactly as thrown (the caller maps it, e.g. to keep the server's error position).
   * Default true: a server error becomes a DatabaseError keeping SQLSTATE, detail and hint.
   */
  mapErrors?: boolean;
  /**
   * What a failure inside `fn` does to the transaction. 'rollback' (default): ROLLBACK, the session stays usable.
   * 'abandon': nothing is sent; the caller closes the connection, which ends the transaction. For a connection used
   * for one COPY: a session that failed in the middle of a COPY cannot take a ROLLBACK (it would wait forever).
   */
  onError?: 'rollback' | 'abandon';
}

type Queryable = pg.Client | pg.PoolClient;

function isPool(x: pg.Pool | Queryable): x is pg.Pool {
  return typeof (x as pg.Pool).totalCount === 'number';
}

/**
 * The statement(s) that open a transaction with these modes, as one simple-query text (one round trip):
 * `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '00000003-0000001B-1'`.
 * The snapshot id is a value the server printed, quoted as a literal (SET TRANSACTION SNAPSHOT takes no parameter).
 */
export function beginSql(opts: Pick<TransactionOptions, 'isolationLevel' | 'readOnly' | 'deferrable' | 'snapshot'> = {}): string {
  if (opts.snapshot !== undefined && opts.isolationLevel !== 'repeatable read' && opts.isolationLevel !== 'serializable') {
    throw new Error('an imported snapshot needs isolationLevel repeatable read or serializable');
  }
  const modes = [
    opts.isolationLevel ? `ISOLATION LEVEL ${opts.isolationLevel.toUpperCase()}` : '',
    opts.readOnly ? 'READ ONLY' : '',
    opts.deferrable ? 'DEFERRABLE' : '',
  ].filter(Boolean).join(' ');
  const begin = `BEGIN${modes ? ` ${modes}` : ''}`;
  return opts.snapshot === undefined ? begin : `${begin}; SET TRANSACTION SNAPSHOT ${quoteLiteral(opts.snapshot)}`;
}

/**
 * BEGIN ... COMMIT around `fn`, ROLLBACK on any error (the original error wins over a rollback failure), or
 * ROLLBACK at the end with `rollbackAtEnd`. Accepts a client, or a pool from which it checks out (and releases)
 * one client.
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
  const started = Date.now();
  await client.query(opts.sessionSql ? `${opts.sessionSql}; ${beginSql(opts)}` : beginSql(opts)).catch(async (err) => {
    // A failed SET TRANSACTION SNAPSHOT (or anything after BEGIN in the same text) leaves the BEGIN open.
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  });
  try {
    if (opts.timeoutMs) await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(opts.timeoutMs)]);
    if (opts.lockTimeoutMs !== undefined) await client.query(`SELECT set_config('lock_timeout', $1, true)`, [String(opts.lockTimeoutMs)]);
    const result = await fn(client);
    if (opts.timeoutMs && Date.now() - started > opts.timeoutMs) {
      throw new DatabaseError(`transaction exceeded its ${opts.timeoutMs} ms timeout and was rolled back`, { sqlState: '57014', hint: 'raise the timeout' });
    }
    await client.query(opts.rollbackAtEnd ? 'ROLLBACK' : 'COMMIT');
    return result;
  } catch (err) {
    if (opts.onError !== 'abandon') await client.query('ROLLBACK').catch(() => {});
    if (opts.mapErrors === false) throw err;
    throw (err as { exitCode?: number })?.exitCode !== undefined ? err : Object.assign(toDatabaseError(err), { cause: err });
  }
}

export type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * `fn` under a savepoint inside the caller's transaction. If `fn` fails, the transaction is rolled back to the
 * savepoint and goes on, and the failure is returned (not thrown) for the caller to classify. A failing SAVEPOINT,
 * RELEASE or ROLLBACK TO (connection lost, transaction already aborted) throws: the transaction cannot go on.
 */
export async function trySavepoint<T>(client: Queryable, name: string, fn: () => Promise<T>): Promise<Attempt<T>> {
  const sp = quoteIdent(name);
  await client.query(`SAVEPOINT ${sp}`);
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    await client.query(`ROLLBACK TO SAVEPOINT ${sp}`);
    return { ok: false, error };
  }
  await client.query(`RELEASE SAVEPOINT ${sp}`);
  return { ok: true, value };
}
