import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseDatabaseUrl, redactedUrl } from '../../src/config/url.ts';
import type { ConnectionSettings } from '../../src/config/types.ts';
import { quoteIdent } from '../../src/db/ident.ts';
import { resolveConfig } from '../../src/config/resolve.ts';
import type { ServiceContext } from '../../src/service.ts';

/** The server tests use: TEST_DATABASE_URL, or the local default. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function connectionFor(url: string): ConnectionSettings {
  const l = parseDatabaseUrl(url, 'TEST_DATABASE_URL');
  const base = { host: l.host ?? '127.0.0.1', port: l.port ?? 5432, user: l.user ?? 'postgres', database: l.database ?? 'postgres' };
  const c = { ...base, sslMode: l.sslMode ?? 'disable', applicationName: 'axisor-db-test', connectTimeoutSeconds: 10, pgbouncer: false, redactedUrl: redactedUrl(base) } as ConnectionSettings;
  if (l.password !== undefined) Object.defineProperty(c, 'password', { value: l.password, enumerable: false });
  return c;
}

/** The context a service gets when called directly on `url`: the config `--database-url <url>` resolves to. */
export function serviceContextFor(url: string, extra: Partial<Omit<ServiceContext, 'config'>> = {}): ServiceContext {
  return { config: resolveConfig({ flags: { databaseUrl: url }, env: {}, cwd: new URL('../..', import.meta.url).pathname }), env: process.env, ...extra };
}

export function urlWithDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  connection: ConnectionSettings;
  /** Drops the database (terminating its sessions). Safe to call twice. */
  drop(): Promise<void>;
}

/** Runs `fn` with a short-lived client on a database URL, ended afterwards whatever happens. */
export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Creates a uniquely named database for one test file. Every name starts with `axisor_test_` and a test only
 * ever drops the database it created.
 */
export async function createTestDatabase(prefix: string, adminUrl = ADMIN_URL): Promise<TestDatabase> {
  const name = `axisor_test_${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await withPg(adminUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const url = urlWithDatabase(adminUrl, name);
  let dropped = false;
  return {
    name,
    url,
    connection: connectionFor(url),
    async drop() {
      if (dropped) return;
      dropped = true;
      await dropDatabase(name, adminUrl);
    },
  };
}

export async function dropDatabase(name: string, adminUrl = ADMIN_URL): Promise<void> {
  await withPg(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}

/** Runs one query on a database URL with a short-lived client. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  return withPg(url, async (c) => (await c.query<R>(sql, params)).rows);
}
