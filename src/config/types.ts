import type { BackupLocation } from '../storage/location.ts';
import type { S3FileConfig } from '../storage/s3-settings.ts';
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface ConnectionSettings {
  readonly host: string; // a host name, an IP, or a socket directory starting with '/'
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Never enumerable: JSON.stringify and util.inspect of the config cannot leak it. */
  readonly password?: string;
  readonly sslMode: SslMode;
  readonly sslRootCert?: string;
  /** Client certificate and its private key for certificate authentication (libpq sslcert/sslkey). */
  readonly sslCert?: string;
  readonly sslKey?: string;
  readonly applicationName: string;
  readonly connectTimeoutSeconds: number;
  /** The URL looks like a transaction pooler (PgBouncer): session features such as advisory locks are unsafe. */
  readonly pgbouncer: boolean;
  /** postgres://user@host:port/db without the password. */
  readonly redactedUrl: string;
}

export interface PoolSettings {
  readonly min: number;
  readonly max: number;
  readonly idleTimeoutMillis: number;
  readonly connectionTimeoutMillis: number;
}

export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface AxisorConfig {
  readonly connection: ConnectionSettings;
  readonly pool: PoolSettings;
  /** Per-statement timeout for the tool's own queries; 0 disables. */
  readonly statementTimeoutMs: number;
  /** lock_timeout for the tool's own DDL and writes; 0 disables. */
  readonly lockTimeoutMs: number;
  /** A local directory (absolute) or s3://bucket/prefix/ (as parsed): for messages and slot names. */
  readonly backupDir: string;
  /** What backupDir names: a local directory or an S3 bucket and prefix. */
  readonly backupLocation: BackupLocation;
  /** The config file's `s3` settings (resolved with the environment only for an S3 location). */
  readonly s3File?: S3FileConfig;
  /** --encryption-key-file, AXISOR_BACKUP_KEY_FILE or encryptionKeyFile (absolute); none: backups are not encrypted. */
  readonly encryptionKeyFile?: string;
  /** Schema holding the Axisor tables. */
  readonly schema: string;
  readonly migrationsDir: string;
  readonly configFile?: string;
  /** Where each setting came from, for `--verbose` and debugging precedence. */
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** Things the user should know about how the settings were resolved (printed on stderr by the CLI). */
  readonly notes?: readonly string[];
}

/** A partial set of connection fields, as one precedence layer provides them. */
export interface ConnectionLayer {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  sslMode?: SslMode;
  sslRootCert?: string;
  sslCert?: string;
  sslKey?: string;
  applicationName?: string;
  connectTimeoutSeconds?: number;
  pgbouncer?: boolean;
  schema?: string;
}

/** Flags shared by every command (see src/cli/options.ts). All optional. */
export interface ConfigFlags {
  databaseUrl?: string;
  host?: string;
  port?: string | number;
  dbname?: string;
  user?: string;
  sslMode?: string;
  sslRootCert?: string;
  sslCert?: string;
  sslKey?: string;
  schema?: string;
  statementTimeout?: string | number;
  lockTimeout?: string | number;
  backupDir?: string;
  encryptionKeyFile?: string;
  config?: string;
  poolMax?: string | number;
}
