import { AxisorError, ConfigError, ExitCode, PrerequisiteError } from '../errors.ts';
import type { CatalogEntry } from '../archive/catalog.ts';
import { lsnToBigInt } from '../archive/changes.ts';
import { manifestFormatFor, type Manifest, type ReplayGap, type TableEntry } from '../archive/manifest.ts';
import { lsnText, PGOUTPUT_FORMAT, pgTimeToIso } from '../archive/pgoutput.ts';
import { manifestEncryptionOf } from '../archive/encryption.ts';
import type { CaptureResult } from './capture.ts';
import { tablesWithoutIdentity, unloggedTables, type ServerInfo, type SourceTable } from './introspect.ts';
import { PLUGIN, type SlotState } from './slots.ts';
import { encryptionField, type RunContext } from './types.ts';

// The pure pieces of an incremental backup: which chain it extends, what stops it, where it resumes, and the
// manifest it writes. No I/O here; incremental.ts runs the phases around them.

/** Thrown when the chain cannot continue but a new full backup would do (the schema changed). */
export class IncrementalNeedsFull extends AxisorError {
  constructor(message: string) {
    super('backup.needs_full', ExitCode.PREREQUISITE, message, { hint: 'take a full backup: axisor-db backup --type full' });
  }
}

/** The chain an incremental extends: the newest full backup with a slot, and the newest member of its chain. */
export function chainHead(catalog: CatalogEntry[], database: string): { root: Manifest; parent: Manifest } | null {
  const mine = catalog.filter((e) => e.manifest && e.manifest.database === database).map((e) => e.manifest!);
  const root = mine.filter((m) => m.type === 'full' && m.slot).pop();
  if (!root) return null;
  const parent = mine.filter((m) => m.chainRoot === root.id).pop()!;
  return { root, parent };
}

/** The chain's slot must still exist and still hold the WAL the chain needs. */
export function slotBlocker(slot: SlotState | undefined, slotName: string, rootId: string): AxisorError | null {
  if (slot && slot.walStatus !== 'lost') return null;
  return new PrerequisiteError(slot ? 'slot_lost' : 'slot_missing', `the replication slot ${slotName} of chain ${rootId} is ${slot ? 'lost (the server removed WAL it needed; see max_slot_wal_keep_size)' : 'gone'}; the chain cannot continue`, {
    hint: 'take a new full backup: axisor-db backup --type full',
  });
}

/** Every table needs a replica identity (to replay UPDATE/DELETE) and must be logged (to be in the WAL at all). */
export function tableBlocker(tables: SourceTable[]): AxisorError | null {
  const noIdentity = tablesWithoutIdentity(tables);
  if (noIdentity.length > 0) {
    return new PrerequisiteError('no_identity', `incremental backups need a primary key or replica identity on every table; missing on: ${noIdentity.join(', ')}`, {
      hint: `add a primary key, or run ALTER TABLE ${noIdentity[0]} REPLICA IDENTITY FULL; then take a full backup`,
    });
  }
  const unlogged = unloggedTables(tables);
  if (unlogged.length > 0) {
    return new PrerequisiteError('unlogged', `changes to unlogged tables are not in the WAL, so incrementals cannot capture them: ${unlogged.join(', ')}`, {
      hint: `run ALTER TABLE ${unlogged[0]} SET LOGGED; then take a full backup`,
    });
  }
  return null;
}

/** A chain is written with one key: restore reads every link with the key given, so a new key starts a new chain. */
export function chainKeyBlocker(root: Manifest, nowKey: string | null): AxisorError | null {
  const rootKey = manifestEncryptionOf(root)?.keyFingerprint ?? null;
  if (rootKey !== null && nowKey === null) {
    // Most likely a cron line that lost its key: refuse rather than start a plaintext chain.
    return new ConfigError('encryption_key_missing', `the chain of ${root.id} is encrypted (key fingerprint ${rootKey}) and no key was given`, {
      hint: `pass the key with fingerprint ${rootKey} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE)`,
    });
  }
  if (rootKey !== nowKey) {
    return new IncrementalNeedsFull(rootKey === null ? 'the chain is not encrypted and a key was given' : `the chain is encrypted with key ${rootKey}, this run has key ${nowKey} (a new key starts a new chain)`);
  }
  return null;
}

/** The slot must decode with pgoutput, and the database's bytes must have an encoding to decode into. */
export function decodingBlocker(slot: SlotState, info: ServerInfo): AxisorError | null {
  if (slot.plugin !== PLUGIN) {
    // Chains started by axisor-db before 0.2 decode with wal2json (lossy for NaN/Infinity); they still restore.
    return new IncrementalNeedsFull(`the chain's slot ${slot.name} decodes with ${slot.plugin}; a new full backup starts a ${PLUGIN} chain`);
  }
  if (info.encoding === 'SQL_ASCII') {
    // The decoding session converts every value to UTF-8 (pinned client_encoding); SQL_ASCII bytes have no defined
    // characters to convert, so non-ASCII bytes could not be carried exactly.
    return new PrerequisiteError('encoding', `incremental backups cannot carry ${info.database}'s SQL_ASCII bytes exactly (they have no defined encoding)`, { hint: 'take full backups (axisor-db backup --type full --no-chain), or move the data to a UTF8 database' });
  }
  return null;
}

/**
 * Where this incremental starts: the parent's end (or the full backup's snapshot). `advance` when the slot is still
 * behind it (a crash between publish and advance); a slot already past it means changes were released: a gap.
 */
export function resumePoint(root: Manifest, parent: Manifest, slot: SlotState): { lastEnd: string; advance: boolean } {
  const lastEnd = parent.lsn?.end ?? root.snapshot?.lsn;
  if (!lastEnd) throw new PrerequisiteError('no_lsn', `backup ${parent.id} records no LSN to continue from`, { hint: 'take a new full backup' });
  if (slot.confirmedFlushLsn && lsnToBigInt(slot.confirmedFlushLsn) > lsnToBigInt(lastEnd)) {
    // The slot already released changes after our newest backup (that backup was deleted by hand): a gap.
    throw new PrerequisiteError('chain_gap', `slot ${slot.name} is past the end of backup ${parent.id} (${slot.confirmedFlushLsn} > ${lastEnd}); changes in between are no longer available`, {
      hint: 'take a new full backup: axisor-db backup --type full',
    });
  }
  return { lastEnd, advance: !!slot.confirmedFlushLsn && lsnToBigInt(slot.confirmedFlushLsn) < lsnToBigInt(lastEnd) };
}

/** Change accounting: each chain table's rows after the captured changes (a TRUNCATE restarts the count from 0). */
export function tablesAfterChanges(tables: TableEntry[], delta: CaptureResult['delta']): TableEntry[] {
  return tables.map((t) => {
    const d = delta.get(`${t.schema}.${t.name}`);
    return { ...t, chunks: [], rows: d ? (d.truncated ? 0 : t.rows) + d.delta : t.rows };
  });
}

/** What the preconditions established: the chain, its slot, the schema it was taken with and where it resumes. */
export interface IncrementalStart {
  root: Manifest;
  parent: Manifest;
  slotName: string;
  fingerprint: string;
  lastEnd: string;
}

/** What the capture wrote: the change file, what it held, and the end of the range (the marker's commit). */
export interface IncrementalCapture {
  file: string;
  written: { bytes: number; sha256: string; rawBytes: number };
  cap: CaptureResult & { end: NonNullable<CaptureResult['end']> };
  gaps: ReplayGap[];
  sequences: Manifest['sequences'];
}

/** The incremental's manifest: the parent's tables with their new row counts, the LSN range and commit times. */
export function incrementalManifest(ctx: RunContext, info: ServerInfo, s: IncrementalStart, c: IncrementalCapture, finishedAt: Date): Manifest {
  const { root, parent } = s;
  const { cap, written } = c;
  const tablesOut = tablesAfterChanges(parent.tables, cap.delta);
  const last = pgTimeToIso(cap.end.commitUs);
  return {
    format: manifestFormatFor(tablesOut), id: ctx.id, type: 'incremental', parent: parent.id, chainRoot: root.id, database: info.database, encoding: info.encoding,
    server: { version: info.version, versionNum: info.versionNum },
    tools: { axisorDb: ctx.opts.toolVersion, pgDump: root.tools.pgDump, compressor: ctx.compressorVersion },
    startedAt: ctx.startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - ctx.startedAt.getTime(),
    compression: ctx.codec.name, ...encryptionField(ctx), snapshot: null, slot: root.slot, lsn: { start: s.lastEnd, end: lsnText(cap.end.lsn) },
    consistentAt: last, commitTimes: { first: cap.firstCommitUs === null ? null : pgTimeToIso(cap.firstCommitUs), last },
    schemaFingerprint: s.fingerprint, files: [{ path: c.file, bytes: written.bytes, sha256: written.sha256 }], tables: tablesOut, sequences: c.sequences, changes: cap.stats,
    totals: { bytes: written.bytes, rawBytes: written.rawBytes, rows: tablesOut.reduce((sum, t) => sum + t.rows, 0) },
    changeFormat: PGOUTPUT_FORMAT, ...(c.gaps.length > 0 ? { replayGaps: c.gaps } : {}),
  };
}
