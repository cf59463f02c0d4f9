import { join } from 'node:path';
import type pg from 'pg';
import { AxisorError, ConfigError, ExitCode, PrerequisiteError } from '../errors.ts';
import { capturePgoutput, type ForeignTable } from './capture.ts';
import type { CatalogEntry } from '../archive/catalog.ts';
import { lsnToBigInt } from '../archive/changes.ts';
import { listTables, readSequences, schemaFingerprint, tablesWithoutIdentity, unloggedTables, type ServerInfo } from './introspect.ts';
import type { Manifest, ReplayGap, TableEntry } from '../archive/manifest.ts';
import { lsnText, PGOUTPUT_FORMAT, pgTimeToIso } from '../archive/pgoutput.ts';
import { listSlots, logicalBlocker, PLUGIN, PUBLICATION, publicationBlocker } from './slots.ts';
import { pinValueSettings } from '../archive/value-settings.ts';
import { encryptionField, type RunContext } from './types.ts';
import { encryptStage, manifestEncryptionOf } from '../archive/encryption.ts';
import { openCompressedWriter } from './writer.ts';

/** Thrown when the chain cannot continue but a new full backup would do (the schema changed). */
export class IncrementalNeedsFull extends AxisorError {
  constructor(message: string) {
    super('backup.needs_full', ExitCode.PREREQUISITE, message, { hint: 'take a full backup: axisor-db backup --type full' });
  }
}

export const MARKER_PREFIX = 'axisor-db';

/** The chain an incremental extends: the newest full backup with a slot, and the newest member of its chain. */
export function chainHead(catalog: CatalogEntry[], database: string): { root: Manifest; parent: Manifest } | null {
  const mine = catalog.filter((e) => e.manifest && e.manifest.database === database).map((e) => e.manifest!);
  const root = mine.filter((m) => m.type === 'full' && m.slot).pop();
  if (!root) return null;
  const parent = mine.filter((m) => m.chainRoot === root.id).pop()!;
  return { root, parent };
}

/**
 * Captures every change committed since the parent backup: emit a marker (a transactional logical message),
 * read the slot up to it with pg_logical_slot_peek_binary_changes (pgoutput; consumes nothing), write and fsync
 * the change file. The slot is advanced only after the backup is published (service.ts), so a crash loses nothing; a
 * crash between publish and advance is repaired here by skipping commits the parent already holds.
 */
export async function writeIncrementalBackup(ctx: RunContext, p: { info: ServerInfo; control: pg.Client; prefix: string; catalog: CatalogEntry[] }): Promise<Manifest> {
  const { info, control } = p;
  const blocker = logicalBlocker(info);
  if (blocker) throw blocker;
  const head = chainHead(p.catalog, info.database);
  if (!head) {
    throw new PrerequisiteError('no_chain', `no full backup of ${info.database} in ${ctx.config.backupDir} started an incremental chain`, {
      hint: 'take one first: axisor-db backup --type full (it creates the logical slot when wal_level = logical)',
    });
  }
  const { root, parent } = head;
  const slotName = root.slot!.name;
  const slot = (await listSlots(control, p.prefix)).find((s) => s.name === slotName);
  if (!slot || slot.walStatus === 'lost') {
    throw new PrerequisiteError(slot ? 'slot_lost' : 'slot_missing', `the replication slot ${slotName} of chain ${root.id} is ${slot ? 'lost (the server removed WAL it needed; see max_slot_wal_keep_size)' : 'gone'}; the chain cannot continue`, {
      hint: 'take a new full backup: axisor-db backup --type full',
    });
  }
  const tables = await listTables(control);
  const noIdentity = tablesWithoutIdentity(tables);
  if (noIdentity.length > 0) {
    throw new PrerequisiteError('no_identity', `incremental backups need a primary key or replica identity on every table; missing on: ${noIdentity.join(', ')}`, {
      hint: `add a primary key, or run ALTER TABLE ${noIdentity[0]} REPLICA IDENTITY FULL; then take a full backup`,
    });
  }
  const unlogged = unloggedTables(tables);
  if (unlogged.length > 0) {
    throw new PrerequisiteError('unlogged', `changes to unlogged tables are not in the WAL, so incrementals cannot capture them: ${unlogged.join(', ')}`, {
      hint: `run ALTER TABLE ${unlogged[0]} SET LOGGED; then take a full backup`,
    });
  }
  // A chain is written with one key: restore reads every link with the key given, so a new key starts a new chain.
  const rootKey = manifestEncryptionOf(root)?.keyFingerprint ?? null;
  const nowKey = ctx.opts.encryptionKey?.fingerprint ?? null;
  if (rootKey !== null && nowKey === null) {
    // Most likely a cron line that lost its key: refuse rather than start a plaintext chain.
    throw new ConfigError('encryption_key_missing', `the chain of ${root.id} is encrypted (key fingerprint ${rootKey}) and no key was given`, {
      hint: `pass the key with fingerprint ${rootKey} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE)`,
    });
  }
  if (rootKey !== nowKey) {
    throw new IncrementalNeedsFull(rootKey === null ? 'the chain is not encrypted and a key was given' : `the chain is encrypted with key ${rootKey}, this run has key ${nowKey} (a new key starts a new chain)`);
  }
  if (slot.plugin !== PLUGIN) {
    // Chains started by axisor-db before 0.2 decode with wal2json (lossy for NaN/Infinity); they still restore.
    throw new IncrementalNeedsFull(`the chain's slot ${slotName} decodes with ${slot.plugin}; a new full backup starts a ${PLUGIN} chain`);
  }
  if (info.encoding === 'SQL_ASCII') {
    // The decoding session converts every value to UTF-8 (pinned client_encoding); SQL_ASCII bytes have no defined
    // characters to convert, so non-ASCII bytes could not be carried exactly.
    throw new PrerequisiteError('encoding', `incremental backups cannot carry ${info.database}'s SQL_ASCII bytes exactly (they have no defined encoding)`, { hint: 'take full backups (axisor-db backup --type full --no-chain), or move the data to a UTF8 database' });
  }
  // pgoutput looks the publication up as of each change: once it was dropped, this slot cannot decode on. A full
  // backup recreates it (or says how) and starts a new chain.
  const pubBlocker = await publicationBlocker(control, info.database, false);
  if (pubBlocker) throw new IncrementalNeedsFull(pubBlocker.message);
  const fingerprint = await schemaFingerprint(control);
  if (fingerprint !== parent.schemaFingerprint) throw new IncrementalNeedsFull(`the schema changed since backup ${parent.id}`);

  const lastEnd = parent.lsn?.end ?? root.snapshot?.lsn;
  if (!lastEnd) throw new PrerequisiteError('no_lsn', `backup ${parent.id} records no LSN to continue from`, { hint: 'take a new full backup' });
  if (slot.confirmedFlushLsn && lsnToBigInt(slot.confirmedFlushLsn) > lsnToBigInt(lastEnd)) {
    // The slot already released changes after our newest backup (that backup was deleted by hand): a gap.
    throw new PrerequisiteError('chain_gap', `slot ${slotName} is past the end of backup ${parent.id} (${slot.confirmedFlushLsn} > ${lastEnd}); changes in between are no longer available`, {
      hint: 'take a new full backup: axisor-db backup --type full',
    });
  }
  if (slot.confirmedFlushLsn && lsnToBigInt(slot.confirmedFlushLsn) < lsnToBigInt(lastEnd)) {
    await control.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slotName, lastEnd]);
  }

  // The decoding session renders every value: pin the settings pg_dump pins, whatever the database's defaults.
  await pinValueSettings(control);
  // The marker's commit is the exact end of this backup. synchronous_commit=on so it is flushed (decoding reads flushed WAL only).
  await control.query('SET synchronous_commit = on');
  await control.query(`SELECT pg_logical_emit_message(true, '${MARKER_PREFIX}', $1)`, [ctx.id]);
  const upto = (await control.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;

  const file = 'changes.pgo' + ctx.codec.ext;
  const writer = openCompressedWriter(ctx.codec, join(ctx.tmpDir, file), ctx.opts.env, encryptStage(ctx.opts.encryptionKey),
    ctx.repo ? (body) => ctx.repo!.repo.put(`${ctx.repo!.prefix}${file}`, body, { signal: ctx.opts.signal }) : null);
  try {
    const cap = await capturePgoutput(control, {
      slot: slotName, publication: PUBLICATION, upto, lastEnd: lsnToBigInt(lastEnd), marker: { prefix: MARKER_PREFIX, content: ctx.id }, tables: parent.tables, writer,
    });
    if (cap.needsFull) throw new IncrementalNeedsFull(cap.needsFull);
    if (!cap.end) throw new AxisorError('internal', ExitCode.INTERNAL, `the marker of backup ${ctx.id} was not found in slot ${slotName}`, { hint: 'retry; if it persists, take a full backup' });
    if ((await schemaFingerprint(control)) !== fingerprint) throw new IncrementalNeedsFull('the schema changed while the incremental was being taken');
    const gaps = await foreignGaps(control, cap.foreign, cap.end.commitUs);
    for (const g of gaps) {
      const m = `table ${g.table} was created and dropped between backups (changes from ${g.from}); its rows are in no backup, and a restore --to-time from ${g.from} to ${g.to} refuses`;
      ctx.warnings.push(m);
      ctx.opts.onWarning?.(m);
    }
    const sequences = await readSequences(control);
    const written = await writer.close();
    const tablesOut: TableEntry[] = parent.tables.map((t) => {
      const d = cap.delta.get(`${t.schema}.${t.name}`);
      return { ...t, chunks: [], rows: d ? (d.truncated ? 0 : t.rows) + d.delta : t.rows };
    });
    const finishedAt = new Date();
    const last = pgTimeToIso(cap.end.commitUs);
    return {
      format: 1, id: ctx.id, type: 'incremental', parent: parent.id, chainRoot: root.id, database: info.database, encoding: info.encoding,
      server: { version: info.version, versionNum: info.versionNum },
      tools: { axisorDb: ctx.opts.toolVersion, pgDump: root.tools.pgDump, compressor: ctx.compressorVersion },
      startedAt: ctx.startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - ctx.startedAt.getTime(),
      compression: ctx.codec.name, ...encryptionField(ctx), snapshot: null, slot: root.slot, lsn: { start: lastEnd, end: lsnText(cap.end.lsn) },
      consistentAt: last, commitTimes: { first: cap.firstCommitUs === null ? null : pgTimeToIso(cap.firstCommitUs), last },
      schemaFingerprint: fingerprint, files: [{ path: file, bytes: written.bytes, sha256: written.sha256 }], tables: tablesOut, sequences, changes: cap.stats,
      totals: { bytes: written.bytes, rawBytes: written.rawBytes, rows: tablesOut.reduce((s, t) => s + t.rows, 0) },
      changeFormat: PGOUTPUT_FORMAT, ...(gaps.length > 0 ? { replayGaps: gaps } : {}),
    };
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/**
 * Tables created after the chain's schema whose changes the capture left out. The end fingerprint equals the
 * chain's, so they must be gone; if one still exists under another name, the chain cannot continue.
 */
async function foreignGaps(control: pg.Client, foreign: ForeignTable[], endUs: bigint): Promise<ReplayGap[]> {
  if (foreign.length === 0) return [];
  // Tables that still exist: an extension's own tables are in no backup (full backups skip them too), so their
  // changes are rightly left out; any other table would be a table the chain does not know.
  const { rows } = await control.query<{ oid: number; ext: boolean }>(`
    SELECT c.oid::int8 AS oid, EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS ext
      FROM pg_class c WHERE c.oid = ANY($1::oid[])`, [foreign.map((f) => f.oid)]);
  const still = foreign.filter((f) => rows.some((r) => Number(r.oid) === f.oid && !r.ext)).map((f) => f.table);
  if (still.length > 0) throw new IncrementalNeedsFull(`tables created between backups still exist under other names (${still.join(', ')})`);
  return foreign.filter((f) => !rows.some((r) => Number(r.oid) === f.oid)).map((f) => ({ table: f.table, from: pgTimeToIso(f.firstCommitUs), to: pgTimeToIso(endUs) }));
}

/** After publishing: the slot may now release everything up to the marker's commit. */
export async function advanceSlot(control: pg.Client, slot: string, lsn: string): Promise<void> {
  await control.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slot, lsn]);
}
