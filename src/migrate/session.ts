import type pg from 'pg';
import { withAdvisoryLock } from '../db/advisory-lock.ts';
import { withClient } from '../db/connect.ts';
import { quoteIdent } from '../db/ident.ts';
import type { ServiceContext } from '../service.ts';

/**
 * The key Prisma's schema engine locks (`pg_advisory_lock(72707369)`). Taking the same one means axisor-db and a
 * `prisma migrate deploy` started at the same moment against one database exclude each other too.
 */
export const MIGRATION_LOCK_KEY = 72707369n;

export const POOLER_WARNING =
  'the connection looks like a transaction pooler (port 6432 or pgbouncer=true): the migration lock is a session advisory lock and ' +
  'a pooler may hand the session to someone else mid-run; use a direct (non-pooled) --database-url for migrate';

/** The config, and where warnings go (the pooler one). */
export type SessionInput = Pick<ServiceContext, 'config' | 'onWarning'>;

/**
 * A dedicated direct connection for a migration run: application_name 'axisor-db migrate' (what a waiting
 * run reports as the holder), no statement or lock timeout (like Prisma: a migration may take as long as it
 * needs; put `SET lock_timeout` in a migration file to bound its waits), search_path = the target schema so
 * unqualified names in migration.sql land there (as Prisma's ?schema= does).
 */
export async function withMigrationSession<T>(input: SessionInput, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const { config } = input;
  if (config.connection.pgbouncer) input.onWarning?.(POOLER_WARNING);
  return withClient(config, async (client) => {
    await client.query(`SET search_path TO ${quoteIdent(config.schema)}`);
    return fn(client);
  }, { applicationName: 'axisor-db migrate', statementTimeoutMs: config.statementTimeoutMs, lockTimeoutMs: 0 });
}

/** Session-level try-lock polled until `timeoutMs`; LockHeldError (75) names the holder's pid, app, state and age. */
export async function withMigrationLock<T>(client: pg.Client, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  return withAdvisoryLock(client, MIGRATION_LOCK_KEY, { timeoutMs, pollMs: 200, label: 'migrate', waitFlag: '--lock-timeout' }, fn);
}
