import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { S3FileConfig } from '../storage/s3-settings.ts';
import type { PoolSettings } from './types.ts';

export const CONFIG_FILE_NAME = 'axisor-db.config.json';

const FILE_KEYS = new Set([
  'databaseUrl', 'host', 'port', 'database', 'user', 'password', 'sslMode', 'sslRootCert', 'applicationName',
  'schema', 'statementTimeout', 'lockTimeout', 'backupDir', 'migrationsDir', 'pool', 'sslCert', 'sslKey',
  's3', 'encryptionKeyFile',
]);
const POOL_KEYS = new Set(['min', 'max', 'idleTimeoutMillis', 'connectionTimeoutMillis']);

export interface FileConfig {
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

/** A path as given, made absolute against the working directory. */
export function absolute(cwd: string, p: string): string {
  return isAbsolute(p) ? p : resolvePath(cwd, p);
}

/** axisor-db.config.json (or --config / AXISOR_CONFIG), validated key by key; absent and not asked for = {}. */
export function loadConfigFile(cwd: string, explicit: string | undefined, via: string | undefined): { path?: string; data?: FileConfig } {
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
