import { join } from 'node:path';
import type pg from 'pg';
import { AxisorError, ExitCode, PrerequisiteError } from '../errors.ts';
import { capturePgoutput, type ForeignTable } from './capture.ts';
import type { CatalogEntry } from '../archive/catalog.ts';
import { lsnToBigInt } from '../archive/changes.ts';
import { listTables, readSequences, schemaFingerprint, type ServerInfo } from './introspect.ts';
import type { Manifest, ReplayGap } from '../archive/manifest.ts';
import { pgTimeToIso } from '../archive/pgoutput.ts';
import { listSlots, logicalBlocker, PUBLICATION, publicationBlocker } from './slots.ts';
import { pinValueSettings } from '../archive/value-settings.ts';
import type { RunContext } from './types.ts';
import { encryptStage } from '../archive/encryption.ts';
import { openCompressedWriter } from './writer.ts';
import {
  chainHead, chainKeyBlocker, decodingBlocker, IncrementalNeedsFull, incrementalManifest, resumePoint, slotBlocker, tableBlocker,
  type IncrementalCapture, type IncrementalStart,
} from './incremental-plan.ts';

export { chainHead, IncrementalNeedsFull };

export const MARKER_PREFIX = 'axisor-db';

type IncrementalParams = { info: ServerInfo; control: pg.Client; prefix: string; catalog: CatalogEntry[] };

/**
 * Captures every change committed since the parent backup: emit a marker (a transactional logical message),
 * read the slot up to it with pg_logical_slot_peek_binary_changes (pgoutput; consumes nothing), write and fsync
 * the change file. The slot is advanced only after the backup is published (service.ts), so a crash loses nothing; a
 * crash between publish and advance is repaired here by skipping commits the parent already holds.
 * Phases: preconditions, marker, capture, manifest build (publishing is service.ts's).
 */
export async function writeIncrementalBackup(ctx: RunContext, p: IncrementalParams): Promise<Manifest> {
  const start = await checkPreconditions(ctx, p);
  const upto = await emitMarker(ctx, p.control);
  const captured = await captureChanges(ctx, p.control, start, upto);
  return incrementalManifest(ctx, p.info, start, captured, new Date());
}

/**
 * Everything that must hold before the marker is written: a chain with a live pgoutput slot, tables decoding can
 * capture, the chain's key, the publication, the chain's schema, and no gap between the parent's end and the slot.
 * A slot still behind the parent (a crash between publish and advance) is advanced to it here.
 */
async function checkPreconditions(ctx: RunContext, p: IncrementalParams): Promise<IncrementalStart> {
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
  const slotProblem = slotBlocker(slot, slotName, root.id);
  if (slotProblem || !slot) throw slotProblem;
  const found = tableBlocker(await listTables(control)) ?? chainKeyBlocker(root, ctx.opts.encryptionKey?.fingerprint ?? null) ?? decodingBlocker(slot, info);
  if (found) throw found;
  // pgoutput looks the publication up as of each change: once it was dropped, this slot cannot decode on. A full
  // backup recreates it (or says how) and starts a new chain.
  const pubBlocker = await publicationBlocker(control, info.database, false);
  if (pubBlocker) throw new IncrementalNeedsFull(pubBlocker.message);
  const fingerprint = await schemaFingerprint(control);
  if (fingerprint !== parent.schemaFingerprint) throw new IncrementalNeedsFull(`the schema changed since backup ${parent.id}`);
  const { lastEnd, advance } = resumePoint(root, parent, slot);
  if (advance) await control.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slotName, lastEnd]);
  return { root, parent, slotName, fingerprint, lastEnd };
}

/** Ends the range: a transactional logical message whose commit is this backup's exact end. Returns the WAL position after it. */
async function emitMarker(ctx: RunContext, control: pg.Client): Promise<string> {
  // The decoding session renders every value: pin the settings pg_dump pins, whatever the database's defaults.
  await pinValueSettings(control);
  // The marker's commit is the exact end of this backup. synchronous_commit=on so it is flushed (decoding reads flushed WAL only).
  await control.query('SET synchronous_commit = on');
  await control.query(`SELECT pg_logical_emit_message(true, '${MARKER_PREFIX}', $1)`, [ctx.id]);
  return (await control.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
}

/**
 * Decodes the slot from the parent's end up to the marker into the change file, checks the schema did not change
 * meanwhile, warns about tables created and dropped in between, and reads the sequences. The file is removed on failure.
 */
async function captureChanges(ctx: RunContext, control: pg.Client, s: IncrementalStart, upto: string): Promise<IncrementalCapture> {
  const file = 'changes.pgo' + ctx.codec.ext;
  const writer = openCompressedWriter(ctx.codec, join(ctx.tmpDir, file), ctx.opts.env, encryptStage(ctx.opts.encryptionKey),
    ctx.repo ? (body) => ctx.repo!.repo.put(`${ctx.repo!.prefix}${file}`, body, { signal: ctx.opts.signal }) : null);
  try {
    const cap = await capturePgoutput(control, {
      slot: s.slotName, publication: PUBLICATION, upto, lastEnd: lsnToBigInt(s.lastEnd), marker: { prefix: MARKER_PREFIX, content: ctx.id }, tables: s.parent.tables, writer,
    });
    if (cap.needsFull) throw new IncrementalNeedsFull(cap.needsFull);
    const end = cap.end;
    if (!end) throw new AxisorError('internal', ExitCode.INTERNAL, `the marker of backup ${ctx.id} was not found in slot ${s.slotName}`, { hint: 'retry; if it persists, take a full backup' });
    if ((await schemaFingerprint(control)) !== s.fingerprint) throw new IncrementalNeedsFull('the schema changed while the incremental was being taken');
    const gaps = await foreignGaps(control, cap.foreign, end.commitUs);
    for (const g of gaps) {
      const m = `table ${g.table} was created and dropped between backups (changes from ${g.from}); its rows are in no backup, and a restore --to-time from ${g.from} to ${g.to} refuses`;
      ctx.warnings.push(m);
      ctx.opts.onWarning?.(m);
    }
    const sequences = await readSequences(control);
    const written = await writer.close();
    return { file, written, cap: { ...cap, end }, gaps, sequences };
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
