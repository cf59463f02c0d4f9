import { join } from 'node:path';
import type pg from 'pg';
import { quoteLiteral } from '../db/ident.ts';
import { AxisorError, ExitCode, PrerequisiteError } from '../errors.ts';
import type { CatalogEntry } from './catalog.ts';
import { lsnToBigInt, scanHeader } from './changes.ts';
import { listTables, readSequences, schemaFingerprint, tablesWithoutIdentity, unloggedTables, type ServerInfo } from './introspect.ts';
import type { ChangeStats, Manifest, TableEntry } from './manifest.ts';
import { listSlots, logicalBlocker, WAL2JSON_OPTIONS } from './slots.ts';
import type { RunContext } from './types.ts';
import { openCompressedWriter } from './writer.ts';

/** Thrown when the chain cannot continue but a new full backup would do (the schema changed). */
export class IncrementalNeedsFull extends AxisorError {
  constructor(message: string) {
    super('backup.needs_full', ExitCode.PREREQUISITE, message, { hint: 'take a full backup: axisor-db backup --type full' });
  }
}

export const MARKER_PREFIX = 'axisor-db';
/** Rows per FETCH: larger batches cost fewer round trips (wal2json lines are ~1.4 kB for a trade row). */
const FETCH = 10000;

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
 * read the slot up to it with pg_logical_slot_peek_changes (which consumes nothing), write and fsync the change
 * file. The slot is advanced only after the backup is published (service.ts), so a crash loses nothing; a
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

  // The marker's commit is the exact end of this backup. synchronous_commit=on so it is flushed (decoding reads flushed WAL only).
  await control.query('SET synchronous_commit = on');
  // wal2json prints commit times in the session time zone.
  await control.query("SET TimeZone = 'UTC'");
  await control.query(`SELECT pg_logical_emit_message(true, '${MARKER_PREFIX}', $1)`, [ctx.id]);
  const upto = (await control.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;

  const file = 'changes.jsonl' + ctx.codec.ext;
  const writer = openCompressedWriter(ctx.codec, join(ctx.tmpDir, file), ctx.opts.env);
  const stats: ChangeStats = { transactions: 0, inserts: 0, updates: 0, deletes: 0, truncates: 0 };
  const delta = new Map<string, { truncated: boolean; delta: number }>();
  let first: string | null = null;
  let endLsn: string | null = null;
  let consistentAt = '';
  try {
    await control.query('BEGIN');
    const optionList = WAL2JSON_OPTIONS.map(quoteLiteral).join(', ');
    await control.query(`DECLARE axisor_changes NO SCROLL CURSOR FOR SELECT data FROM pg_logical_slot_peek_changes(${quoteLiteral(slotName)}, ${quoteLiteral(upto)}::pg_lsn, NULL, ${optionList})`);
    let skipping = false;
    let inMarker = false;
    const fetchNext = () => control.query<{ data: string }>(`FETCH ${FETCH} FROM axisor_changes`);
    // The next batch is on its way while this one is scanned and handed to the compressor. (The server decodes
    // the whole range into a tuplestore on the first FETCH: pg_logical_slot_peek_changes is not streamed.)
    let pending: Promise<pg.QueryResult<{ data: string }>> | null = fetchNext();
    try {
      outer: while (pending) {
        const { rows }: pg.QueryResult<{ data: string }> = await pending;
        pending = rows.length === FETCH ? fetchNext() : null;
        if (rows.length === 0) break;
        let out = '';
        for (const { data } of rows) {
          const h = scanHeader(data);
          const r = h.record;
          if (h.action === 'B') {
            skipping = lsnToBigInt(r!.nextlsn!) <= lsnToBigInt(lastEnd);
            if (!skipping) {
              stats.transactions++;
              first ??= r!.timestamp ?? null;
            }
          }
          if (skipping || (h.action === 'M' && !(r!.transactional && r!.prefix === MARKER_PREFIX && r!.content === ctx.id))) continue;
          if (h.action === 'M') inMarker = true;
          out += `${data}\n`;
          if ('IUDT'.includes(h.action)) {
            const key = `${h.schema}.${h.table}`;
            const d = delta.get(key) ?? { truncated: false, delta: 0 };
            if (h.action === 'I') (stats.inserts++, d.delta++);
            else if (h.action === 'U') stats.updates++;
            else if (h.action === 'D') (stats.deletes++, d.delta--);
            else (stats.truncates++, (d.truncated = true), (d.delta = 0));
            delta.set(key, d);
          }
          if (h.action === 'C' && inMarker) {
            endLsn = r!.nextlsn!;
            consistentAt = r!.timestamp!;
            await writer.write(out);
            break outer;
          }
        }
        if (out) await writer.write(out);
      }
    } finally {
      // A prefetched batch still in flight must finish before COMMIT/ROLLBACK (its rows are not needed).
      await pending?.catch(() => {});
    }
    await control.query('COMMIT');
    if (!endLsn) throw new AxisorError('internal', ExitCode.INTERNAL, `the marker of backup ${ctx.id} was not found in slot ${slotName}`, { hint: 'retry; if it persists, take a full backup' });
    if ((await schemaFingerprint(control)) !== fingerprint) throw new IncrementalNeedsFull('the schema changed while the incremental was being taken');
    const sequences = await readSequences(control);
    const written = await writer.close();
    const tablesOut: TableEntry[] = parent.tables.map((t) => {
      const d = delta.get(`${t.schema}.${t.name}`);
      return { ...t, chunks: [], rows: d ? (d.truncated ? 0 : t.rows) + d.delta : t.rows };
    });
    const finishedAt = new Date();
    return {
      format: 1, id: ctx.id, type: 'incremental', parent: parent.id, chainRoot: root.id, database: info.database, encoding: info.encoding,
      server: { version: info.version, versionNum: info.versionNum },
      tools: { axisorDb: ctx.opts.toolVersion, pgDump: root.tools.pgDump, compressor: ctx.compressorVersion },
      startedAt: ctx.startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - ctx.startedAt.getTime(),
      compression: ctx.codec.name, snapshot: null, slot: root.slot, lsn: { start: lastEnd, end: endLsn },
      consistentAt: normalizeTs(consistentAt), commitTimes: { first: first ? normalizeTs(first) : null, last: normalizeTs(consistentAt) },
      schemaFingerprint: fingerprint, files: [{ path: file, bytes: written.bytes, sha256: written.sha256 }], tables: tablesOut, sequences, changes: stats,
      totals: { bytes: written.bytes, rawBytes: written.rawBytes, rows: tablesOut.reduce((s, t) => s + t.rows, 0) },
    };
  } catch (err) {
    writer.abort();
    await control.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** '2026-11-26 10:51:22.101018+00' -> '2026-11-26T10:51:22.101018Z' (wal2json prints UTC when the server's log_timezone is UTC; otherwise keep the offset). */
function normalizeTs(ts: string): string {
  return ts.replace(' ', 'T').replace(/\+00$/, 'Z');
}

/** After publishing: the slot may now release everything up to the marker's commit. */
export async function advanceSlot(control: pg.Client, slot: string, lsn: string): Promise<void> {
  await control.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slot, lsn]);
}
