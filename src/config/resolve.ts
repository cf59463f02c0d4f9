import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseDuration, parsePositiveInt } from './duration.ts';
import { applyLibpqTlsFiles, bindPasswordToItsUrl, buildConnection, checkTlsSettings, connectionLayers, mergeLayers } from './connection.ts';
import { absolute, CONFIG_FILE_NAME, loadConfigFile, type FileConfig } from './file.ts';
import type { AxisorConfig, ConfigFlags, ConfigSource, ConnectionSettings, PoolSettings } from './types.ts';
import { packageRoot } from '../package-root.ts';
import { resolveKeyFile } from '../crypto/key.ts';
import { parseBackupLocation } from '../storage/location.ts';

export { CONFIG_FILE_NAME } from './file.ts';

export interface ResolveConfigInput {
  flags?: ConfigFlags;
  env?: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** The OS user name: libpq's default for the user and database. */
  osUser?: string;
}

type Env = Readonly<Record<string, string | undefined>>;
type LoadedFile = { path?: string; data?: FileConfig };

/**
 * Resolves the configuration once: flags > environment (DATABASE_URL, then PG* variables) > config file > defaults.
 * The result is deeply frozen; the password is a non-enumerable property and is registered for redaction.
 * `sources` records where each value came from; `notes` what the user should know (printed by --verbose).
 */
export function resolveConfig(input: ResolveConfigInput): AxisorConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const sources: Record<string, ConfigSource> = {};
  const configPath = flags.config ?? env.AXISOR_CONFIG;
  const file = loadConfigFile(input.cwd, configPath, flags.config ? '--config' : env.AXISOR_CONFIG ? 'AXISOR_CONFIG' : undefined);
  const { connection, schema, notes } = resolveConnection(input, flags, env, file, sources);
  const pool = resolvePool(flags, env, file, connection, sources);
  const timeouts = resolveTimeouts(flags, env, file, sources);
  const storage = resolveStorage(input.cwd, flags, env, file, sources);
  return deepFreeze({
    connection,
    pool,
    ...timeouts,
    backupDir: storage.backupDir,
    backupLocation: storage.backupLocation,
    ...(file.data?.s3 ? { s3File: file.data.s3 } : {}),
    ...(storage.encryptionKeyFile ? { encryptionKeyFile: storage.encryptionKeyFile } : {}),
    schema,
    migrationsDir: storage.migrationsDir,
    configFile: file.path,
    sources,
    notes,
  });
}

/** The connection from its layers, libpq's defaults filled in (user, database, TLS files), and the notes it earns. */
function resolveConnection(input: ResolveConfigInput, flags: ConfigFlags, env: Env, file: LoadedFile, sources: Record<string, ConfigSource>): { connection: ConnectionSettings; schema: string; notes: string[] } {
  const m = mergeLayers(connectionLayers(flags, env, file), sources);
  const { merged } = m;
  const user = merged.user ?? input.osUser ?? 'postgres';
  const base = { host: merged.host ?? 'localhost', port: merged.port ?? 5432, user, database: merged.database ?? user };
  const notes: string[] = [];
  const passwordNote = bindPasswordToItsUrl(m, base, sources);
  if (passwordNote) notes.push(passwordNote);
  const configured = ['host', 'port', 'database', 'user'].some((k) => sources[`connection.${k}`] !== undefined);
  if (!configured) {
    notes.push(`no connection settings given (--database-url, DATABASE_URL, PG* variables or ${CONFIG_FILE_NAME}): using libpq's defaults as psql would: database "${base.database}" at ${base.host}:${base.port} as ${base.user}`);
  }
  const sslMode = merged.sslMode ?? 'prefer';
  applyLibpqTlsFiles(merged, sslMode, env.HOME, sources);
  checkTlsSettings(merged, sslMode);
  return { connection: buildConnection(base, merged, sslMode, input.cwd), schema: merged.schema ?? 'public', notes };
}

function resolvePool(flags: ConfigFlags, env: Env, file: LoadedFile, connection: ConnectionSettings, sources: Record<string, ConfigSource>): PoolSettings {
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
  return pool;
}

function resolveTimeouts(flags: ConfigFlags, env: Env, file: LoadedFile, sources: Record<string, ConfigSource>): { statementTimeoutMs: number; lockTimeoutMs: number } {
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
  return { statementTimeoutMs, lockTimeoutMs };
}

/** Where backups go (a directory made absolute, or an s3:// URL as given), the encryption key file, the migrations. */
function resolveStorage(cwd: string, flags: ConfigFlags, env: Env, file: LoadedFile, sources: Record<string, ConfigSource>) {
  const backupDirValue = pick(sources, 'backupDir', [
    [flags.backupDir, 'flag'], [env.AXISOR_BACKUP_DIR || undefined, 'env'], [file.data?.backupDir, 'file'],
  ], './backups');
  const backupLocation = parseBackupLocation(backupDirValue, cwd);
  const backupDir = backupLocation.kind === 'local' ? backupLocation.dir : backupLocation.url;
  const keyFile = resolveKeyFile(flags.encryptionKeyFile, env, file.data?.encryptionKeyFile);
  sources.encryptionKeyFile = flags.encryptionKeyFile ? 'flag' : env.AXISOR_BACKUP_KEY_FILE ? 'env' : file.data?.encryptionKeyFile ? 'file' : 'default';
  const encryptionKeyFile = keyFile ? absolute(cwd, keyFile) : undefined;
  // The package's own migrations (found from the installed package, not the working directory), so a globally
  // installed axisor-db run by cron or systemd from / migrates with the migrations it was released with.
  const migrationsDir = absolute(cwd, pick(sources, 'migrationsDir', [[file.data?.migrationsDir, 'file']], join(packageRoot(), 'prisma', 'migrations')));
  return { backupDir, backupLocation, encryptionKeyFile, migrationsDir };
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

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const key of Reflect.ownKeys(obj)) deepFreeze((obj as Record<string | symbol, unknown>)[key]);
    Object.freeze(obj);
  }
  return obj;
}
