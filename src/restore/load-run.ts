import type { Manifest, TableEntry } from '../archive/manifest.ts';
import type { AxisorConfig, ConnectionSettings } from '../config/types.ts';
import type { BackupKey } from '../crypto/key.ts';
import type { PgTool, RunToolOptions } from '../pgtools/index.ts';
import type { ProgressFn } from '../progress.ts';

export interface LoadOptions {
  config: AxisorConfig;
  env: Readonly<Record<string, string | undefined>>;
  jobs: number;
  /** schema.table names to restore, or null for all. */
  only: Set<string> | null;
  toTimeMicros: bigint | null;
  /** pg_restore --no-owner: the restoring role owns everything (no membership of the source's owners needed). */
  noOwner: boolean;
  /** pg_restore --no-privileges: no GRANT/REVOKE of the source (its grantees need not exist here). */
  noAcl?: boolean;
  /** The database the user asked for (the side database `db` is renamed to it), for messages. */
  targetName?: string;
  /** Runs after the data is loaded and before indexes and constraints (the drill's fingerprint check). */
  afterData?: (db: string, tables: TableEntry[]) => Promise<void>;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** The key an encrypted chain was written with (checked by authenticateChain before anything was created). */
  encryptionKey?: BackupKey | null;
}

/** A full backup and its incrementals, oldest first. */
export type Chain = Array<{ dir: string; manifest: Manifest }>;

/**
 * One restore as loadChain's phases hand it on (prepareSchema fills it; buildWork, runWork and finishRestore read
 * it and add to `phases`).
 */
export interface LoadRun {
  /** The database restored into. */
  db: string;
  o: LoadOptions;
  chain: Chain;
  /** The full backup's manifest (chain[0]). */
  full: Manifest;
  conn: ConnectionSettings;
  pgRestore: PgTool;
  /** A local, plain schema archive (fetched and decrypted into `listDir` when the chain is remote or encrypted). */
  schemaFile: string;
  /** The private temporary directory of the TOC lists (removed by loadChain). */
  listDir: string;
  /** The flags of every pg_restore step that changes the database: --exit-on-error, --no-owner, --no-privileges, -L listFile. */
  common: string[];
  /** The TOC list without the foreign keys (`rest`), and the foreign keys' own list (`foreignKeys`, in fkListFile). */
  listFile: string;
  rest: string;
  fkListFile: string;
  foreignKeys: string;
  /** pg_restore -l -v of the archive (each entry with its dependencies). */
  verbose: string;
  /** The backup's tables being restored (--table). */
  tables: TableEntry[];
  /** Where the time went (LoadResult.phases). */
  phases: Record<string, number>;
  warnings: string[];
  /** Extensions the restoring role may not create (left out). */
  skipped: Array<{ name: string; why: string }>;
  droppedForeignKeys: number;
  /** Runs a pg_restore step, naming the flag or role a failure needs (a missing role, a skipped extension's dependent). */
  schemaStep: <T>(fn: () => Promise<T>) => Promise<T>;
  /** runPgTool options of the steps that change the database. */
  tool: RunToolOptions;
}
