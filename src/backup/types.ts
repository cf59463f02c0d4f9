import { manifestEncryption, type BackupKey } from '../crypto/key.ts';
import type { Repository } from '../storage/types.ts';
import type { AxisorConfig } from '../config/types.ts';
import type { ProgressFn } from '../progress.ts';
import type { Codec } from '../archive/compress.ts';
import type { BackupType } from '../archive/id.ts';
import type { Compression, Manifest } from '../archive/manifest.ts';

export interface BackupOptions {
  type: BackupType;
  compression: Compression;
  compressLevel?: number;
  /** Parallel data streams (COPY sessions + compressors). */
  jobs: number;
  /** Wait this long for another backup of the same database to finish (0: fail at once with LOCK_HELD). */
  waitSeconds: number;
  /**
   * Full backups: auto writes every table whose column types read back in any database (introspect's
   * BINARY_PORTABLE) as COPY binary, the rest as text; text writes all as text. Absent: auto.
   */
  copyFormat?: 'auto' | 'text';
  /** Full backups start an incremental chain (a logical slot) when the server allows it. */
  startChain: boolean;
  /** Environment for PATH / PG_BIN (passed in: nothing below commands/ reads process.env). */
  env: Readonly<Record<string, string | undefined>>;
  toolVersion: string;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  onWarning?: (message: string) => void;
  now?: () => Date;
  /** Encrypt every data file, change file and the schema archive (AES-256-GCM in chunks); null: plaintext. */
  encryptionKey?: BackupKey | null;
}

/** runBackup's input: what the command parsed; the environment, progress, warnings and signal come from the ServiceContext. */
export type BackupInput = Omit<BackupOptions, 'env' | 'signal' | 'onProgress' | 'onWarning'>;

export interface BackupResult {
  id: string;
  type: BackupType;
  requestedType: BackupType;
  /** Why an incremental became a full backup (schema change), or null. */
  promotedBecause: string | null;
  parent: string | null;
  database: string;
  dir: string;
  compression: Compression;
  bytes: number;
  rawBytes: number;
  rows: number;
  tables: number;
  files: number;
  durationMs: number;
  slot: string | null;
  lsn: { start: string; end: string } | null;
  changes: Manifest['changes'];
  removedTempDirs: string[];
  warnings: string[];
  /**
   * Where the time went (ms; see docs/performance.md). Full backups: snapshotMs, catalogMs, schemaMs, dataMs (wall,
   * all streams), streams, streamConnectMs/streamCopyMs/streamDigestMs/streamFileHashMs/streamFsyncMs (summed over
   * streams), nodeCpuMs, manifestMs, publishMs.
   */
  phases: Record<string, number>;
}

/** What a backup run hands to the full/incremental writers. */
export interface RunContext {
  config: AxisorConfig;
  opts: BackupOptions;
  codec: Codec;
  compressorVersion: string | null;
  id: string;
  tmpDir: string;
  startedAt: Date;
  warnings: string[];
  phases: Record<string, number>;
  /** An S3 location: files go to `${prefix}<file>` in `repo` (ctx.tmpDir is then the backup's URL, for messages). */
  repo?: { repo: Repository; prefix: string } | null;
}

/** The manifest's `encryption` field: present (with the key's fingerprint) only when the backup is encrypted. */
export function encryptionField(ctx: RunContext): { encryption?: NonNullable<ReturnType<typeof manifestEncryption>> } {
  const enc = manifestEncryption(ctx.opts.encryptionKey ?? null);
  return enc ? { encryption: enc } : {};
}
