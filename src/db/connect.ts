import pg from 'pg';
import type { AxisorConfig, ConnectionSettings, PoolSettings } from '../config/types.ts';
import { ConnectionError } from '../errors.ts';
import { mapConnectError } from './errors.ts';
import { sslOption } from './tls.ts';

export type PgClient = pg.Client;
export type PgPool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint (int8) as JS bigint would break JSON; numeric stays a string (money must not become a float).
pg.types.setTypeParser(20, (v: string) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
});

export interface SessionOptions {
  /** statement_timeout for this session in ms (0 = none). Defaults to the config's. */
  statementTimeoutMs?: number;
  /** lock_timeout for this session in ms (0 = none). Defaults to the config's. */
  lockTimeoutMs?: number;
  /** Overrides application_name, e.g. 'axisor-db migrate'. */
  applicationName?: string;
  /** Connect to another database on the same server (e.g. 'postgres' to CREATE DATABASE). */
  database?: string;
  /**
   * 'database' opens a logical REPLICATION connection (walsender), which accepts replication commands such as
   * CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT through the simple query protocol. Needs the REPLICATION attribute.
   */
  replication?: 'database';
}

type ConnSource = AxisorConfig | ConnectionSettings;

function settingsOf(src: ConnSource): { conn: ConnectionSettings; statementTimeoutMs: number; lockTimeoutMs: number } {
  if ('connection' in src) return { conn: src.connection, statementTimeoutMs: src.statementTimeoutMs, lockTimeoutMs: src.lockTimeoutMs };
  return { conn: src, statementTimeoutMs: 0, lockTimeoutMs: 0 };
}

/** Settings for another database on the same server, keeping credentials (e.g. a scratch or restore target). */
export function withDatabase(c: ConnectionSettings, database: string): ConnectionSettings {
  const copy = { ...c, database, redactedUrl: c.redactedUrl.replace(/\/[^/?]*(\?|$)/, `/${encodeURIComponent(database)}$1`) };
  if (c.password !== undefined) Object.defineProperty(copy, 'password', { value: c.password, enumerable: false });
  return Object.freeze(copy);
}

const sslProbe = new Map<string, boolean>();

function clientConfig(c: ConnectionSettings, s: SessionOptions, preferSsl: boolean, defaults: { statementTimeoutMs: number; lockTimeoutMs: number }): pg.ClientConfig {
  const statementTimeout = s.statementTimeoutMs ?? defaults.statementTimeoutMs;
  const lockTimeout = s.lockTimeoutMs ?? defaults.lockTimeoutMs;
  const cfg: pg.ClientConfig = {
    host: c.host,
    port: c.port,
    user: c.user,
    database: s.database ?? c.database,
    password: c.password,
    application_name: s.applicationName ?? c.applicationName,
    connectionTimeoutMillis: c.connectTimeoutSeconds * 1000,
    ssl: sslOption(c, preferSsl),
    ...(s.replication ? { replication: s.replication } : {}),
    // Sent in the start-up packet, so they hold from the first statement. A transaction pooler would reject them.
    ...(c.pgbouncer || s.replication ? {} : {
      // node-postgres parses timestamps and intervals in ISO/postgres style only: a server or database whose
      // DateStyle is 'SQL, DMY' (or IntervalStyle sql_standard) would otherwise hand every service null dates. And
      // Prisma's pg adapter sends DateTime values without an offset, which the server reads in the session's
      // TimeZone: on a server whose TimeZone is not UTC every written time would shift (seen: +3 h on
      // America/Sao_Paulo, test/integration/data-transactions.test.ts via scripts/test-on-configured-server.sh).
      options: '-c DateStyle=ISO -c IntervalStyle=postgres -c TimeZone=UTC',
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
      ...(lockTimeout > 0 ? { lock_timeout: lockTimeout } : {}),
    }),
  };
  return cfg;
}

/**
 * Opens one client. With sslmode=prefer (libpq's default) it tries SSL first and falls back to plain,
 * remembering the answer per server for the rest of the process.
 */
export async function connectClient(src: ConnSource, session: SessionOptions = {}): Promise<pg.Client> {
  const { conn, ...defaults } = settingsOf(src);
  const key = `${conn.host}:${conn.port}`;
  let preferSsl = conn.sslMode === 'prefer' ? sslProbe.get(key) ?? true : false;
  for (;;) {
    const client = new pg.Client(clientConfig(conn, session, preferSsl, defaults));
    // An idle client whose server goes away emits 'error'; without a listener Node would crash.
    client.on('error', () => {});
    try {
      await client.connect();
      if (conn.sslMode === 'prefer') sslProbe.set(key, preferSsl);
      return client;
    } catch (err) {
      await client.end().catch(() => {});
      if (conn.sslMode === 'prefer' && preferSsl && /does not support SSL/i.test(String((err as Error)?.message))) {
        preferSsl = false;
        continue;
      }
      throw mapConnectError(err, session.database ? { ...conn, database: session.database } : conn);
    }
  }
}

/** Runs `fn` with a dedicated client and always closes it; a failure to close never hides fn's error. */
export async function withClient<T>(src: ConnSource, fn: (client: pg.Client) => Promise<T>, session: SessionOptions = {}): Promise<T> {
  const client = await connectClient(src, session);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A session opened after the run is connected (a data stream, a restore session): failing to connect now
 * (refused, or the server restarting) means the server went away mid-run, which the run's failure classification
 * (archive/classify.ts) reports as connection.lost (68), like a psql process that could not connect did before.
 */
export async function connectMidRun(conn: ConnectionSettings, applicationName: string): Promise<pg.Client> {
  try {
    return await connectClient(conn, { applicationName, statementTimeoutMs: 0, lockTimeoutMs: 0 });
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    if (err instanceof ConnectionError || /not yet accepting connections|starting up|shutting down|in recovery mode/i.test(msg)) {
      throw new Error(`could not connect to server for ${applicationName}: ${msg}`, { cause: err });
    }
    throw err;
  }
}

/** A pool using the configured sizes and timeouts. Caller ends it (`await pool.end()`). */
export async function createPool(src: ConnSource, session: SessionOptions & { pool?: Partial<PoolSettings> } = {}): Promise<pg.Pool> {
  const { conn, ...defaults } = settingsOf(src);
  const poolSettings: PoolSettings = { ...('pool' in src ? src.pool : { min: 0, max: 10, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 }), ...session.pool };
  // Probe once so sslmode=prefer is settled and connection errors surface here, mapped, not on first query.
  const probe = await connectClient(src, session);
  const preferSsl = sslProbe.get(`${conn.host}:${conn.port}`) === true;
  await probe.end().catch(() => {});
  const pool = new pg.Pool({
    ...clientConfig(conn, session, preferSsl, defaults),
    min: poolSettings.min,
    max: poolSettings.max,
    idleTimeoutMillis: poolSettings.idleTimeoutMillis,
    connectionTimeoutMillis: poolSettings.connectionTimeoutMillis,
  });
  pool.on('error', () => {}); // idle client errors: the next checkout reconnects
  return pool;
}

/** Runs `fn` with a pool and ends it afterwards. */
export async function withPool<T>(src: ConnSource, fn: (pool: pg.Pool) => Promise<T>, session: SessionOptions & { pool?: Partial<PoolSettings> } = {}): Promise<T> {
  const pool = await createPool(src, session);
  try {
    return await fn(pool);
  } finally {
    await pool.end().catch(() => {});
  }
}
