import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parsePositiveInt } from './duration.ts';
import { absolute, type FileConfig } from './file.ts';
import { registerSecret } from './secrets.ts';
import type { ConfigFlags, ConfigSource, ConnectionLayer, ConnectionSettings, SslMode } from './types.ts';
import { parseDatabaseUrl, parseSslMode, redactedUrl } from './url.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** One source's connection settings; `url` names the URL it was parsed from (a password that came with it belongs to it). */
export interface Layer {
  source: ConfigSource;
  layer: ConnectionLayer;
  url?: string;
}

const CONNECTION_FIELDS = [
  'host', 'port', 'database', 'user', 'password', 'sslMode', 'sslRootCert', 'applicationName', 'connectTimeoutSeconds', 'pgbouncer', 'schema', 'sslCert', 'sslKey',
] as const;

/** Connection layers, lowest precedence first: file (its URL, then its keys), PG* variables, DATABASE_URL, --database-url, flags. */
export function connectionLayers(flags: ConfigFlags, env: Env, file: { path?: string; data?: FileConfig }): Layer[] {
  const layers: Layer[] = [];
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
  return layers;
}

export interface MergedLayers {
  merged: ConnectionLayer;
  /** Where the winning password came from, and the server and user it was given for, when it came inside a URL. */
  passwordFrom?: { url: string; host?: string; port?: number; user?: string };
  /** The last password not tied to a URL (PGPASSWORD, the file's password key): libpq's "for whatever I connect to". */
  plainPassword?: string;
}

/** Each later layer overrides the fields it sets; `sources` records which source won each field. Pure. */
export function mergeLayers(layers: readonly Layer[], sources: Record<string, ConfigSource>): MergedLayers {
  const merged: ConnectionLayer = {};
  let passwordFrom: MergedLayers['passwordFrom'];
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
  return { merged, passwordFrom, plainPassword };
}

/**
 * A password belongs to the URL it came with: DATABASE_URL's password is never sent to another server or user
 * given by --database-url, --host or --user (libpq would not know it either: it reads PGPASSWORD or ~/.pgpass).
 * Then the plain password (if any) applies instead. Returns the note explaining it, or null. Mutates `m.merged`.
 */
export function bindPasswordToItsUrl(m: MergedLayers, base: { host: string; port: number; user: string; database: string }, sources: Record<string, ConfigSource>): string | null {
  const { merged, passwordFrom } = m;
  if (!passwordFrom || merged.password === undefined) return null;
  const same = (passwordFrom.host ?? 'localhost') === base.host && (passwordFrom.port ?? 5432) === base.port && (passwordFrom.user ?? base.user) === base.user;
  if (same) return null;
  registerSecret(merged.password);
  if (m.plainPassword !== undefined) merged.password = m.plainPassword;
  else {
    delete merged.password;
    sources['connection.password'] = 'default';
  }
  return `the password in ${passwordFrom.url} is not sent to ${redactedUrl(base)}: it belongs to the server and user of that URL (give this one's password in its own URL, PGPASSWORD or ~/.pgpass)`;
}

/**
 * libpq's defaults: ~/.postgresql/root.crt (then require verifies the chain) and ~/.postgresql/postgresql.crt/.key,
 * used when present. The Node driver gets the same files, so it and pg_dump/psql agree. Mutates `merged`.
 */
export function applyLibpqTlsFiles(merged: ConnectionLayer, sslMode: SslMode, home: string | undefined, sources: Record<string, ConfigSource>): void {
  const pgDir = home ? join(home, '.postgresql') : undefined;
  if (!pgDir || sslMode === 'disable') return;
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

/** verify-ca/verify-full need a CA file; a client certificate needs its key and the key its certificate. */
export function checkTlsSettings(merged: ConnectionLayer, sslMode: SslMode): void {
  if ((sslMode === 'verify-full' || sslMode === 'verify-ca') && !merged.sslRootCert) {
    throw new ConfigError('ssl_ca', `ssl mode '${sslMode}' needs a CA certificate file`, {
      hint: 'pass --ssl-root-cert FILE or set PGSSLROOTCERT',
    });
  }
  if (Boolean(merged.sslCert) !== Boolean(merged.sslKey)) {
    throw new ConfigError('ssl_cert', `a client certificate needs both the certificate and its key (got only the ${merged.sslCert ? 'certificate' : 'key'})`, {
      hint: 'pass --ssl-cert FILE and --ssl-key FILE (or PGSSLCERT and PGSSLKEY, or sslcert/sslkey in the URL)',
    });
  }
}

/** The frozen-to-be connection settings; the password is non-enumerable and registered for redaction. */
export function buildConnection(base: { host: string; port: number; user: string; database: string }, merged: ConnectionLayer, sslMode: SslMode, cwd: string): ConnectionSettings {
  const connection: ConnectionSettings = {
    ...base,
    sslMode,
    sslRootCert: merged.sslRootCert ? absolute(cwd, merged.sslRootCert) : undefined,
    ...(merged.sslCert && merged.sslKey ? { sslCert: absolute(cwd, merged.sslCert), sslKey: absolute(cwd, merged.sslKey) } : {}),
    applicationName: merged.applicationName ?? 'axisor-db',
    connectTimeoutSeconds: merged.connectTimeoutSeconds ?? 10,
    pgbouncer: merged.pgbouncer ?? base.port === 6432,
    redactedUrl: redactedUrl(base),
  };
  if (merged.password !== undefined) {
    registerSecret(merged.password);
    Object.defineProperty(connection, 'password', { value: merged.password, enumerable: false });
  }
  return connection;
}

function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>;
}
