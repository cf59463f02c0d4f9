import { createHash } from 'node:crypto';
import { isAbsolute, join, posix } from 'node:path';
import { IntegrityError, NotFoundError } from '../errors.ts';
import type { BackupKey, ManifestEncryption } from '../crypto/key.ts';
import { manifestMac } from '../crypto/manifest-mac.ts';
import { writeFileDurable } from './fsx.ts';
import { readStoredBuffer } from './repo.ts';
import type { Repository } from '../storage/types.ts';
import type { BackupType } from './id.ts';
import type { CopyFormat } from './row-digest.ts';

export const MANIFEST_FILE = 'manifest.json';
/** sha256 of manifest.json, so a damaged manifest is detected like any other file. */
export const MANIFEST_SUM_FILE = 'manifest.sha256';
/**
 * The manifest format written when a backup holds COPY binary data (format 2: tables carry `copyFormat`); a backup
 * that holds only COPY text keeps format 1, so older axisor-db versions still read it. Older versions refuse
 * format 2 (manifest_format, exit 65) instead of loading binary rows as text.
 */
export const MANIFEST_FORMAT = 2;
const READABLE_FORMATS: ReadonlySet<number> = new Set([1, 2]);

/** The format a manifest with these tables is written in (see MANIFEST_FORMAT). */
export function manifestFormatFor(tables: ReadonlyArray<Pick<TableEntry, 'copyFormat'>>): number {
  return tables.some((t) => t.copyFormat === 'binary') ? 2 : 1;
}

export type Compression = 'zstd' | 'gzip' | 'none';

export interface ManifestFile {
  /** Relative to the backup directory. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface TableChunk {
  file: string;
  rows: number;
  /** Uncompressed COPY bytes (text or binary, as the table's copyFormat). */
  rawBytes: number;
  /**
   * Order-independent digest of the stream's rows (row-digest.ts, algorithm in Manifest.rowDigestAlgorithm): the
   * content fingerprint the restore drill recomputes. Absent in manifests written before it existed.
   */
  rowDigest?: string;
  /** Older manifests: sha256 of the stream's COPY text in physical order (reordering on reload changes it). */
  contentSha256?: string;
}

export interface TableEntry {
  schema: string;
  name: string;
  /** Columns in COPY order (generated columns excluded: the server recomputes them). */
  columns: string[];
  /** How the table's data streams are written: 'binary' (COPY binary, format 2 manifests) or text (absent). */
  copyFormat?: CopyFormat;
  rows: number;
  chunks: TableChunk[];
  /** Source catalog OIDs of the table, its indexes, constraints, triggers, defaults, owned sequences: --table uses them to select schema entries. */
  objects: number[];
  fkeys: Array<{ oid: number; ref: string }>;
  ownedSequences: string[];
  /** It has a primary key or a replica identity, so its UPDATEs and DELETEs can be captured. */
  hasIdentity: boolean;
}

export interface SequenceEntry {
  schema: string;
  name: string;
  lastValue: string;
  isCalled: boolean;
}

export interface ChangeStats {
  transactions: number;
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
}

export interface Manifest {
  format: number;
  id: string;
  type: BackupType;
  /** Previous backup in the chain (incrementals only). */
  parent: string | null;
  /** The full backup this chain starts with (itself for a full). */
  chainRoot: string;
  database: string;
  encoding: string;
  server: { version: string; versionNum: number };
  tools: { axisorDb: string; pgDump: string; compressor: string | null };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  compression: Compression;
  /** Algorithm of the chunks' rowDigest (absent in older manifests). */
  rowDigestAlgorithm?: string;
  /** Full: the exported snapshot the data was read in; its LSN (slot consistent point) if a chain starts here. */
  snapshot: { name: string; lsn: string | null } | null;
  /** Logical slot that feeds this chain's incrementals, or null if the chain cannot continue. */
  slot: { name: string; plugin: string } | null;
  /** Incremental: the LSN range of captured commits (start exclusive, end inclusive of the marker commit). */
  lsn: { start: string; end: string } | null;
  /** Commit timestamps: a full's snapshot time, an incremental's first and last captured commit. */
  consistentAt: string;
  commitTimes: { first: string | null; last: string | null } | null;
  schemaFingerprint: string;
  files: ManifestFile[];
  /** Row counts per table as of this backup (for an incremental: after applying it to its chain). */
  tables: TableEntry[];
  sequences: SequenceEntry[];
  changes: ChangeStats | null;
  totals: { bytes: number; rawBytes: number; rows: number };
  /** Incremental: the change file's format, 'pgoutput-1'; absent in older backups (wal2json format-version 2 lines). */
  changeFormat?: string;
  /** Encrypted backups: the algorithm and the fingerprint of the key every file was written with. */
  encryption?: ManifestEncryption;
  /** Incremental: windows a --to-time restore refuses (a table lived and died there; its rows are in no backup). */
  replayGaps?: ReplayGap[];
}

export interface ReplayGap {
  table: string;
  from: string;
  to: string;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function writeManifest(dir: string, m: Manifest, key: BackupKey | null = null): Promise<void> {
  const text = `${JSON.stringify(m, null, 2)}\n`;
  // An encrypted backup's manifest is authenticated under the key (written before the manifest: a manifest
  // that exists always has its MAC beside it).
  if (key) await writeFileDurable(join(dir, 'manifest.hmac'), manifestMac(text, key));
  await writeFileDurable(join(dir, MANIFEST_FILE), text);
  await writeFileDurable(join(dir, MANIFEST_SUM_FILE), `${sha256Hex(text)}  ${MANIFEST_FILE}\n`);
}

/**
 * The S3 publish: the MAC and the checksum first, manifest.json last (its presence is what lists the backup).
 */
export async function putManifest(repo: Repository, id: string, m: Manifest, key: BackupKey | null): Promise<void> {
  const text = `${JSON.stringify(m, null, 2)}\n`;
  if (key) await repo.put(`${id}/manifest.hmac`, manifestMac(text, key));
  await repo.put(`${id}/${MANIFEST_SUM_FILE}`, `${sha256Hex(text)}  ${MANIFEST_FILE}\n`);
  await repo.put(`${id}/${MANIFEST_FILE}`, text);
}

/** Reads a backup's manifest and checks it against its own checksum. */
export async function readManifest(dir: string, id: string): Promise<Manifest> {
  let text: string;
  let sum: string;
  try {
    text = (await readStoredBuffer(dir, MANIFEST_FILE)).toString('utf8');
    sum = (await readStoredBuffer(dir, MANIFEST_SUM_FILE)).toString('utf8').split(/\s+/)[0] ?? '';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError('backup_manifest', `backup ${id} has no manifest (${dir})`, { hint: 'run `axisor-db backup list` to see the complete backups' });
    }
    throw err;
  }
  if (sha256Hex(text) !== sum) {
    throw new IntegrityError('manifest_checksum', `the manifest of backup ${id} does not match its checksum`, { hint: 'the backup directory was modified or damaged; restore from another backup' });
  }
  const m = JSON.parse(text) as Manifest;
  if (!READABLE_FORMATS.has(m.format) || m.id !== id || m.format < manifestFormatFor(m.tables ?? [])) {
    throw new IntegrityError('manifest_format', `the manifest of backup ${id} has format ${m.format} / id ${m.id}`, { hint: 'this backup was written by an incompatible axisor-db version or renamed' });
  }
  validateManifestPaths(m);
  return m;
}

/** A manifest path is a plain relative path below the backup directory: no '..', no absolute path, no oddities. */
export function isConfinedPath(p: unknown): boolean {
  if (typeof p !== 'string' || p === '' || p.includes('\0') || p.includes('\\') || isAbsolute(p)) return false;
  if (posix.normalize(p) !== p) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/**
 * Every path a restore or verify will read must be confined to the backup directory and listed in files[] (so its
 * size and sha256 are checked before it is used). A manifest that breaks this is damaged or hostile: 65.
 */
export function validateManifestPaths(m: Manifest): void {
  const bad = (what: string) => new IntegrityError('manifest_path', `the manifest of backup ${m.id} is invalid: ${what}`, { hint: 'the backup directory was modified or damaged; restore from another backup' });
  if (!Array.isArray(m.files) || !Array.isArray(m.tables)) throw bad('files[] or tables[] is missing');
  const listed = new Set<string>();
  for (const f of m.files) {
    if (!isConfinedPath(f?.path)) throw bad(`file path ${JSON.stringify(f?.path)} is not inside the backup directory`);
    listed.add(f.path);
  }
  if ((m.type === 'full' || m.type === 'schema-only') && !listed.has('schema.dump')) throw bad('schema.dump is not listed in files[]');
  for (const t of m.tables) {
    for (const c of t.chunks ?? []) {
      if (!isConfinedPath(c?.file)) throw bad(`the data file ${JSON.stringify(c?.file)} of ${t.schema}.${t.name} is not inside the backup directory`);
      if (!listed.has(c.file)) throw bad(`the data file ${c.file} of ${t.schema}.${t.name} is not listed (with a checksum) in files[]`);
    }
  }
}
