import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseDuration, parsePositiveInt } from './duration.ts';
import type { AxisorConfig, ConfigFlags, ConfigSource, ConnectionLayer, ConnectionSettings, PoolSettings } from './types.ts';
import { parseDatabaseUrl, parseSslMode, redactedUrl } from './url.ts';
import { registerSecret } from './secrets.ts';
import { packageRoot } from '../package-root.ts';
import { resolveKeyFile } from '../crypto/key.ts';
import { parseBackupLocation } from '../storage/location.ts';
import type { S3FileConfig } from '../storage/s3-settings.ts';

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
  's3', 'encryptionKeyFile',
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
  /** Settings of an s3:// backup location (src/storage/s3-settings.ts); credentials never come from here. */
  s3?: S3FileConfig;
  encryptionKeyFile?: string;
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

  // Connection layers, lowest precedence first. Each later layer overrides the fields it sets. `url` names the URL a
  // layer was parsed from: a password that came with a URL belongs to that URL's server and user (see below).
  const layers: Array<{ source: ConfigSource; layer: ConnectionLayer; url?: string }> = [];
  if (file.data) {
    const f = file.data;
    if (f.databaseUrl) layers.push({ source: 'file', layer: parseDatabaseUrl(f.databaseUrl, `databaseUrl in ${file.path}`), url: `databaseUrl in ${file.path}` });
    layers.push({ source: 'file', layer: definedOnly({
      host: f.host, port: f.port, database: f.database, user: f.user, password: f.password,
      sslMode: f.sslMode ? parseSslMode(f.sslMode, `sslMode in ${file.path}`) : undefined,
      sslRootCert: f.sslRootCert, applicationName: f.applicationName, schema: f.schema, sslCert: f.sslCert, sslKey: f.sslKey,
    }) });
  }
  layers.push({ source: 'env', layer: definedOnly({
    host: env.PGHOST || undefined,
    port: env.PGPORT ? parsePositiveInt(env.PGPORT, 'PGPORT', { max: 65535, example: 5432 }) : undefined,
    database: env.PGDATABASE || undefined,
    user: env.PGUSER || undefined,
    password: env.PGPASSWORD || undefined,
    sslMode: env.PGSSLMODE ? parseSslMode(env.PGSSLMODE, 'PGSSLMODE') : undefined,
    sslRootCert: env.PGSSLROOTCERT || undefined,
    sslCert: env.PGSSLCERT || undefined,
    sslKey: env.PGSSLKEY || undefined,
    applicationName: env.PGAPPNAME || undefined,
    connectTimeoutSeconds: env.PGCONNECT_TIMEOUT ? parsePositiveInt(env.PGCONNECT_TIMEOUT, 'PGCONNECT_TIMEOUT') : undefined,
  }) });
  if (env.DATABASE_URL) layers.push({ source: 'env', layer: parseDatabaseUrl(env.DATABASE_URL, 'DATABASE_URL'), url: 'DATABASE_URL' });
  if (flags.databaseUrl !== undefined) layers.push({ source: 'flag', layer: parseDatabaseUrl(flags.databaseUrl, '--database-url'), url: '--database-url' });
  layers.push({ source: 'flag', layer: definedOnly({
    host: flags.host,
    port: flags.port !== undefined ? parsePositiveInt(flags.port, '--port', { max: 65535, example: 5432 }) : undefined,
    database: flags.dbname,
    user: flags.user,
    sslMode: flags.sslMode !== undefined ? parseSslMode(flags.sslMode, '--ssl-mode') : undefined,
    sslRootCert: flags.sslRootCert,
    sslCert: flags.sslCert,
    sslKey: flags.sslKey,
    schema: flags.schema,
  }) });

  const merged: ConnectionLayer = {};
  // Where the password came from, and the server and user it was given for when it came inside a URL.
  let passwordFrom: { url: string; host?: string; port?: number; user?: string } | undefined;
  // The last password not tied to a URL (PGPASSWORD, the file's password key): libpq's "for whatever I connect to".
  let plainPassword: string | undefined;
  for (const { source, layer, url } of layers) {
    for (const key of CONNECTION_FIELDS) {
      if (layer[key] !== undefined) {
        (merged as Record<string, unknown>)[key] = layer[key];
        sources[`connection.${key}`] = source;
      }
    }
    if (layer.password !== undefined) {
      passwordFrom = url ? { url, host: merged.host, port: merged.port, user: merged.user } : undefined;
      if (!url) plainPassword = layer.password;
    }
  }
  const user = merged.user ?? input.osUser ?? 'postgres';
  const base = {
    host: merged.host ?? 'localhost',
    port: merged.port ?? 5432,
    user,
    database: merged.database ?? user,
  };
  const notes: string[] = [];
  // A password belongs to the URL it came with: DATABASE_URL's password is never sent to another server or user
  // given by --database-url, --host or --user (libpq would not know it either: it reads PGPASSWORD or ~/.pgpass).
  if (passwordFrom && merged.password !== undefined) {
    const same = (passwordFrom.host ?? 'localhost') === base.host && (passwordFrom.port ?? 5432) === base.port && (passwordFrom.user ?? user) === user;
    if (!same) {
      registerSecret(merged.password);
      if (plainPassword !== undefined) merged.password = plainPassword;
      else {
        delete merged.password;
        sources['connection.password'] = 'default';
      }
      notes.push(`the password in ${passwordFrom.url} is not sent to ${redactedUrl(base)}: it belongs to the server and user of that URL (give this one's password in its own URL, PGPASSWORD or ~/.pgpass)`);
    }
  }
  const configured = ['host', 'port', 'database', 'user'].some((k) => sources[`connection.${k}`] !== undefined);
  if (!configured) {
    notes.push(`no connection settings given (--database-url, DATABASE_URL, PG* variables or ${CONFIG_FILE_NAME}): using libpq's defaults as psql would: database "${base.database}" at ${base.host}:${base.port} as ${base.user}`);
  }
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
  const backupDirValue = pick(sources, 'backupDir', [
    [flags.backupDir, 'flag'], [env.AXISOR_BACKUP_DIR || undefined, 'env'], [file.data?.backupDir, 'file'],
  ], './backups');
  // s3://bucket/prefix stays as given (parsed, not made absolute); a local directory is made absolute.
  const backupLocation = parseBackupLocation(backupDirValue, input.cwd);
  const backupDir = backupLocation.kind === 'local' ? backupLocation.dir : backupLocation.url;
  const keyFile = resolveKeyFile(flags.encryptionKeyFile, env, file.data?.encryptionKeyFile);
  sources.encryptionKeyFile = flags.encryptionKeyFile ? 'flag' : env.AXISOR_BACKUP_KEY_FILE ? 'env' : file.data?.encryptionKeyFile ? 'file' : 'default';
  const encryptionKeyFile = keyFile ? absolute(input.cwd, keyFile) : undefined;
  // The package's own migrations (found from the installed package, not the working directory), so a globally
  // installed axisor-db run by cron or systemd from / migrates with the migrations it was released with.
  const migrationsDir = absolute(input.cwd, pick(sources, 'migrationsDir', [[file.data?.migrationsDir, 'file']], join(packageRoot(), 'prisma', 'migrations')));

  return deepFreeze({
    connection,
    pool,
    statementTimeoutMs,
    lockTimeoutMs,
    backupDir,
    backupLocation,
    ...(file.data?.s3 ? { s3File: file.data.s3 } : {}),
    ...(encryptionKeyFile ? { encryptionKeyFile } : {}),
    schema: merged.schema ?? 'public',
    migrationsDir,
    configFile: file.path,
    sources,
    notes,
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
  const d = data as Record<string, unknown>;
  for (const key of ['databaseUrl', 'host', 'database', 'user', 'password', 'sslMode', 'sslRootCert', 'applicationName', 'schema', 'backupDir', 'migrationsDir', 'encryptionKeyFile']) {
    if (d[key] !== undefined && (typeof d[key] !== 'string' || d[key] === '')) {
      throw new ConfigError('file_value', `config file ${path}: ${key} must be a non-empty string`, { hint: `fix ${key} in ${path}` });
    }
  }
  if (d.port !== undefined && !(typeof d.port === 'number' && Number.isInteger(d.port) && d.port >= 1 && d.port <= 65535)) {
    throw new ConfigError('file_value', `config file ${path}: port must be a number 1-65535 (got ${JSON.stringify(d.port)})`, { hint: `fix port in ${path}, e.g. "port": 5432` });
  }
  for (const key of ['statementTimeout', 'lockTimeout']) {
    if (d[key] !== undefined && typeof d[key] !== 'string' && typeof d[key] !== 'number') {
      throw new ConfigError('file_value', `config file ${path}: ${key} must be a duration such as "30s"`, { hint: `fix ${key} in ${path}` });
    }
  }
  if (d.s3 !== undefined && (typeof d.s3 !== 'object' || d.s3 === null || Array.isArray(d.s3))) {
    throw new ConfigError('file_value', `config file ${path}: s3 must be an object such as {"region": "eu-west-1", "forcePathStyle": true}`, { hint: `fix s3 in ${path}` });
  }
  const pool = (data as FileConfig).pool;
  if (pool !== undefined && (typeof pool !== 'object' || pool === null || Array.isArray(pool))) {
    throw new ConfigError('file_value', `config file ${path}: pool must be an object such as {"max": 10}`, { hint: `fix pool in ${path}` });
  }
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
