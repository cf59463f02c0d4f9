import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseDuration, parsePositiveInt } from './duration.ts';
import type { AxisorConfig, ConfigFlags, ConfigSource, ConnectionLayer, ConnectionSettings, PoolSettings } from './types.ts';
import { parseDatabaseUrl, parseSslMode, redactedUrl } from './url.ts';
import { registerSecret } from './secrets.ts';

export interface ResolveConfigInput {
  flags?: ConfigFlags;
  env?: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** The OS user name: libpq's default for the user and database. */
  osUser?: string;
}

export const CONFIG_FILE_NAME = 'axisor-db.config.json';

const FILE_KEYS = new Set([
  'databaseUrl', 'host', 'port', 'database', 'user', 'password', 'sslMode', 'sslRootCert', 'applicationName',
  'schema', 'statementTimeout', 'lockTimeout', 'backupDir', 'migrationsDir', 'pool', 'sslCert', 'sslKey',
]);
const POOL_KEYS = new Set(['min', 'max', 'idleTimeoutMillis', 'connectionTimeoutMillis']);

interface FileConfig {
  databaseUrl?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  sslMode?: string;
  sslRootCert?: string;
  sslCert?: string;
  sslKey?: string;
  applicationName?: string;
  schema?: string;
  statementTimeout?: string | number;
  lockTimeout?: string | number;
  backupDir?: string;
  migrationsDir?: string;
  pool?: Partial<Record<keyof PoolSettings, number>>;
}

const CONNECTION_FIELDS = [
  'host', 'port', 'database', 'user', 'password', 'sslMode', 'sslRootCert', 'applicationName', 'connectTimeoutSeconds', 'pgbouncer', 'schema', 'sslCert', 'sslKey',
] as const;

/**
 * Resolves the configuration once: flags > environment (DATABASE_URL, then PG* variables) > config file > defaults.
 * The result is deeply frozen; the password is a non-enumerable property and is registered for redaction.
 */
export function resolveConfig(input: ResolveConfigInput): AxisorConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const sources: Record<string, ConfigSource> = {};

  const configPath = flags.config ?? env.AXISOR_CONFIG;
  const file = loadConfigFile(input.cwd, configPath, flags.config ? '--config' : env.AXISOR_CONFIG ? 'AXISOR_CONFIG' : undefined);

  // Connection layers, lowest precedence first. Each later layer overrides the fields it sets.
  const layers: Array<[ConfigSource, ConnectionLayer]> = [];
  if (file.data) {
    const f = file.data;
    const fromUrl = f.databaseUrl ? parseDatabaseUrl(f.databaseUrl, `databaseUrl in ${file.path}`) : {};
    layers.push(['file', {
      ...fromUrl,
      ...definedOnly({
        host: f.host, port: f.port, database: f.database, user: f.user, password: f.password,
        sslMode: f.sslMode ? parseSslMode(f.sslMode, `sslMode in ${file.path}`) : undefined,
        sslRootCert: f.sslRootCert, applicationName: f.applicationName, schema: f.schema, sslCert: f.sslCert, sslKey: f.sslKey,
      }),
    }]);
  }
  layers.push(['env', definedOnly({
    host: env.PGHOST || undefined,
    port: env.PGPORT ? parsePositiveInt(env.PGPORT, 'PGPORT', { max: 65535 }) : undefined,
    database: env.PGDATABASE || undefined,
    user: env.PGUSER || undefined,
    password: env.PGPASSWORD || undefined,
    sslMode: env.PGSSLMODE ? parseSslMode(env.PGSSLMODE, 'PGSSLMODE') : undefined,
    sslRootCert: env.PGSSLROOTCERT || undefined,
    sslCert: env.PGSSLCERT || undefined,
    sslKey: env.PGSSLKEY || undefined,
    applicationName: env.PGAPPNAME || undefined,
    connectTimeoutSeconds: env.PGCONNECT_TIMEOUT ? parsePositiveInt(env.PGCONNECT_TIMEOUT, 'PGCONNECT_TIMEOUT') : undefined,
  })]);
  if (env.DATABASE_URL) layers.push(['env', parseDatabaseUrl(env.DATABASE_URL, 'DATABASE_URL')]);
  if (flags.databaseUrl !== undefined) layers.push(['flag', parseDatabaseUrl(flags.databaseUrl, '--database-url')]);
  layers.push(['flag', definedOnly({
    host: flags.host,
    port: flags.port !== undefined ? parsePositiveInt(flags.port, '--port', { max: 65535 }) : undefined,
    database: flags.dbname,
    user: flags.user,
    sslMode: flags.sslMode !== undefined ? parseSslMode(flags.sslMode, '--ssl-mode') : undefined,
    sslRootCert: flags.sslRootCert,
    sslCert: flags.sslCert,
    sslKey: flags.sslKey,
    schema: flags.schema,
  })]);

  const merged: ConnectionLayer = {};
  for (const [source, layer] of layers) {
    for (const key of CONNECTION_FIELDS) {
      if (layer[key] !== undefined) {
        (merged as Record<string, unknown>)[key] = layer[key];
        sources[`connection.${key}`] = source;
      }
    }
  }
  const user = merged.user ?? input.osUser ?? 'postgres';
  const base = {
    host: merged.host ?? 'localhost',
    port: merged.port ?? 5432,
    user,
    database: merged.database ?? user,
  };
  const sslMode = merged.sslMode ?? 'prefer';
  // libpq's defaults: ~/.postgresql/root.crt (then require verifies the chain) and ~/.postgresql/postgresql.crt/.key,
  // used when present. The Node driver gets the same files, so it and pg_dump/psql agree.
  const pgDir = env.HOME ? join(env.HOME, '.postgresql') : undefined;
  if (pgDir && sslMode !== 'disable') {
    if (!merged.sslRootCert && existsSync(join(pgDir, 'root.crt'))) {
      merged.sslRootCert = join(pgDir, 'root.crt');
      sources['connection.sslRootCert'] = 'default';
    }
    if (!merged.sslCert && !merged.sslKey && existsSync(join(pgDir, 'postgresql.crt')) && existsSync(join(pgDir, 'postgresql.key'))) {
      merged.sslCert = join(pgDir, 'postgresql.crt');
      merged.sslKey = join(pgDir, 'postgresql.key');
      sources['connection.sslCert'] = 'default';
    }
  }
  if (sslMode === 'verify-full' || sslMode === 'verify-ca') {
    if (!merged.sslRootCert) {
      throw new ConfigError('ssl_ca', `ssl mode '${sslMode}' needs a CA certificate file`, {
        hint: 'pass --ssl-root-cert FILE or set PGSSLROOTCERT',
      });
    }
  }
  if (Boolean(merged.sslCert) !== Boolean(merged.sslKey)) {
    throw new ConfigError('ssl_cert', `a client certificate needs both the certificate and its key (got only the ${merged.sslCert ? 'certificate' : 'key'})`, {
      hint: 'pass --ssl-cert FILE and --ssl-key FILE (or PGSSLCERT and PGSSLKEY, or sslcert/sslkey in the URL)',
    });
  }
  const connection: ConnectionSettings = {
    ...base,
    sslMode,
    sslRootCert: merged.sslRootCert ? absolute(input.cwd, merged.sslRootCert) : undefined,
    ...(merged.sslCert && merged.sslKey ? { sslCert: absolute(input.cwd, merged.sslCert), sslKey: absolute(input.cwd, merged.sslKey) } : {}),
    applicationName: merged.applicationName ?? 'axisor-db',
    connectTimeoutSeconds: merged.connectTimeoutSeconds ?? 10,
    pgbouncer: merged.pgbouncer ?? base.port === 6432,
    redactedUrl: redactedUrl(base),
  };
  if (merged.password !== undefined) {
    registerSecret(merged.password);
    Object.defineProperty(connection, 'password', { value: merged.password, enumerable: false });
  }

  const pool: PoolSettings = {
    min: pick(sources, 'pool.min', [[file.data?.pool?.min, 'file']], 0),
    max: pick(sources, 'pool.max', [
      [flags.poolMax !== undefined ? parsePositiveInt(flags.poolMax, '--pool-max', { max: 1000 }) : undefined, 'flag'],
      [env.AXISOR_POOL_MAX ? parsePositiveInt(env.AXISOR_POOL_MAX, 'AXISOR_POOL_MAX', { max: 1000 }) : undefined, 'env'],
      [file.data?.pool?.max, 'file'],
    ], 10),
    idleTimeoutMillis: pick(sources, 'pool.idleTimeoutMillis', [[file.data?.pool?.idleTimeoutMillis, 'file']], 30_000),
    connectionTimeoutMillis: pick(sources, 'pool.connectionTimeoutMillis', [[file.data?.pool?.connectionTimeoutMillis, 'file']],
      connection.connectTimeoutSeconds * 1000),
  };
  if (pool.min > pool.max) {
    throw new ConfigError('pool', `pool.min (${pool.min}) is greater than pool.max (${pool.max})`, { hint: `fix pool in ${file.path ?? CONFIG_FILE_NAME} or --pool-max` });
  }

  const statementTimeoutMs = pick(sources, 'statementTimeoutMs', [
    [flags.statementTimeout !== undefined ? parseDuration(flags.statementTimeout, '--statement-timeout') : undefined, 'flag'],
    [env.AXISOR_STATEMENT_TIMEOUT ? parseDuration(env.AXISOR_STATEMENT_TIMEOUT, 'AXISOR_STATEMENT_TIMEOUT') : undefined, 'env'],
    [file.data?.statementTimeout !== undefined ? parseDuration(file.data.statementTimeout, `statementTimeout in ${file.path}`) : undefined, 'file'],
  ], 0);
  const lockTimeoutMs = pick(sources, 'lockTimeoutMs', [
    [flags.lockTimeout !== undefined ? parseDuration(flags.lockTimeout, '--lock-timeout') : undefined, 'flag'],
    [env.AXISOR_LOCK_TIMEOUT ? parseDuration(env.AXISOR_LOCK_TIMEOUT, 'AXISOR_LOCK_TIMEOUT') : undefined, 'env'],
    [file.data?.lockTimeout !== undefined ? parseDuration(file.data.lockTimeout, `lockTimeout in ${file.path}`) : undefined, 'file'],
  ], 10_000);
  const backupDir = absolute(input.cwd, pick(sources, 'backupDir', [
    [flags.backupDir, 'flag'], [env.AXISOR_BACKUP_DIR || undefined, 'env'], [file.data?.backupDir, 'file'],
  ], './backups'));
  const migrationsDir = absolute(input.cwd, pick(sources, 'migrationsDir', [[file.data?.migrationsDir, 'file']], 'prisma/migrations'));

  return deepFreeze({
    connection,
    pool,
    statementTimeoutMs,
    lockTimeoutMs,
    backupDir,
    schema: merged.schema ?? 'public',
    migrationsDir,
    configFile: file.path,
    sources,
  });
}

function pick<T>(sources: Record<string, ConfigSource>, key: string, candidates: Array<[T | undefined, ConfigSource]>, fallback: T): T {
  for (const [value, source] of candidates) {
    if (value !== undefined) {
      sources[key] = source;
      return value;
    }
  }
  sources[key] = 'default';
  return fallback;
}

function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>;
}

function absolute(cwd: string, p: string): string {
  return isAbsolute(p) ? p : resolvePath(cwd, p);
}

function loadConfigFile(cwd: string, explicit: string | undefined, via: string | undefined): { path?: string; data?: FileConfig } {
  const path = explicit ? absolute(cwd, explicit) : join(cwd, CONFIG_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new ConfigError('file_unreadable', `cannot read config file ${path}: ${(err as Error).message}`, {
      hint: via ? `fix the path given by ${via}` : `fix or remove ${path}`,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('file_json', `config file ${path} is not valid JSON: ${(err as Error).message}`, { hint: `fix the JSON in ${path}` });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError('file_shape', `config file ${path} must hold a JSON object`, { hint: `fix ${path}` });
  }
  for (const key of Object.keys(data)) {
    if (!FILE_KEYS.has(key)) {
      throw new ConfigError('file_key', `config file ${path} has an unknown key '${key}'`, {
        hint: `allowed keys: ${[...FILE_KEYS].join(', ')}`,
      });
    }
  }
  const pool = (data as FileConfig).pool;
  if (pool !== undefined) {
    for (const [key, value] of Object.entries(pool)) {
      if (!POOL_KEYS.has(key)) throw new ConfigError('file_key', `config file ${path} has an unknown key 'pool.${key}'`, { hint: `allowed: ${[...POOL_KEYS].join(', ')}` });
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new ConfigError('file_value', `config file ${path}: pool.${key} must be a non-negative integer`, { hint: `fix pool.${key} in ${path}` });
      }
    }
  }
  return { path, data: data as FileConfig };
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const key of Reflect.ownKeys(obj)) deepFreeze((obj as Record<string | symbol, unknown>)[key]);
    Object.freeze(obj);
  }
  return obj;
}
