import type { Readable } from 'node:stream';

/** One object (a file, locally) of a backup repository. Keys are '/'-separated and relative to the repository root. */
export interface ObjectInfo {
  key: string;
  bytes: number;
  modifiedAt: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; omitted: to the end. */
  end?: number;
}

export interface PutOptions {
  signal?: AbortSignal;
  /** Called as bytes are accepted (after any encryption: what is stored). */
  onBytes?: (total: number) => void;
}

export interface PutResult {
  key: string;
  bytes: number;
}

export interface LockOptions {
  /** Keep trying this long while another run holds the lock (0: one attempt, then LOCK_HELD). */
  waitMs: number;
  /** A lock not refreshed for this long is taken over (its holder is presumed dead). */
  staleAfterMs?: number;
  /** Recorded in the lock, shown to a run that finds it held. */
  label?: string;
}

export interface LockHolder {
  host: string;
  pid: number;
  label: string | null;
  startedAt: string;
}

export interface LockHandle {
  readonly name: string;
  /** False once another run took the lock over (this run was presumed dead): stop writing. */
  held(): boolean;
  release(): Promise<void>;
}

export interface CleanupOptions {
  /** Leftovers of a writer on another host, or whose liveness cannot be checked, are removed after this age. */
  olderThanMs: number;
}

export interface CleanupReport {
  /** Multipart uploads aborted (S3) and temporary files removed (local). */
  aborted: Array<{ key: string; uploadId: string | null; via: 'marker' | 'list-uploads' | 'temp-file' }>;
  /** Uploads found but not abortable here (the server lacks AbortMultipartUpload): left to a bucket lifecycle rule. */
  leftOver: Array<{ key: string; uploadId: string; reason: string }>;
  notes: string[];
}

/**
 * Where backups live: a local directory or an S3 prefix. What backup and restore need, nothing more.
 * Publishing is per object: `put` makes an object visible only once it is complete, under its final key;
 * a backup is published by writing its manifest last.
 */
export interface Repository {
  readonly kind: 'local' | 's3';
  /** For messages: the directory or s3://bucket/prefix (never a credential). */
  readonly location: string;
  /** Checks the location is usable (directory creatable / bucket reachable with these credentials). */
  probe(): Promise<void>;
  /** Streams `body` to `key`. A reader never sees a partial object; a failed or killed put leaves nothing under `key`. */
  put(key: string, body: Readable | Buffer | string, opts?: PutOptions): Promise<PutResult>;
  /** Reads an object (or a byte range of it). NotFoundError (66) if it does not exist. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Reads a small object whole. */
  getBuffer(key: string): Promise<Buffer>;
  stat(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, sorted by key; the repository's internal area is never listed. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Idempotent: deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every object under `prefix` (which must end in '/'); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** One holder at a time per name, across processes and hosts sharing the repository. LockHeldError (75) when held. */
  acquireLock(name: string, opts: LockOptions): Promise<LockHandle>;
  /** Removes what killed writers left: temporary files, multipart uploads and their parts. */
  cleanupAbandoned(opts: CleanupOptions): Promise<CleanupReport>;
  close(): Promise<void>;
}

/** The repository's own area (locks, upload markers, temporary files): hidden from list, refused as a user key. */
export const INTERNAL_PREFIX = '.axisor/';
