import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { quoteLiteral } from '../db/ident.ts';
import type { ChangeStats, TableEntry } from '../archive/manifest.ts';
import { beginFinalLsn, CopyRowSplitter, frame, lengthPrefix, messageTag, parseMessage, pgoutputOptions, rowRelid, type Relation } from '../archive/pgoutput.ts';
import type { CompressedWriter } from './writer.ts';

export interface CaptureParams {
  slot: string;
  publication: string;
  /** Decode up to here (an LSN after the marker's commit). */
  upto: string;
  /** End of the parent backup: transactions that committed before it are already in the chain. */
  lastEnd: bigint;
  marker: { prefix: string; content: string };
  /** The chain's tables (their first object is the source table's OID). */
  tables: TableEntry[];
  writer: CompressedWriter;
}

/** A table created after the chain's schema and gone by the end of the range: its changes are left out. */
export interface ForeignTable {
  oid: number;
  table: string;
  firstCommitUs: bigint;
  lastCommitUs: bigint;
}

export interface CaptureResult {
  stats: ChangeStats;
  /** Per chain table: row delta, and whether it was truncated. */
  delta: Map<string, { truncated: boolean; delta: number }>;
  firstCommitUs: bigint | null;
  /** The marker's commit: end LSN (what the slot is advanced to) and commit time; null if not found. */
  end: { lsn: bigint; commitUs: bigint } | null;
  foreign: ForeignTable[];
  /** Why the range cannot be an incremental of this chain (a chain table was renamed, altered or re-created in it). */
  needsFull: string | null;
}

type RelState = { kind: 'chain'; key: string } | { kind: 'foreign'; table: string } | { kind: 'changed'; why: string };

const sameColumns = (rel: Relation, t: TableEntry) => rel.columns.length === t.columns.length && rel.columns.every((c, i) => c.name === t.columns[i]);

/**
 * Reads the slot's pgoutput messages up to `upto` as one binary COPY (no hex text, no per-row objects in Node),
 * keeps those of transactions after the parent backup up to the marker's commit, and writes them length-prefixed.
 * Relation messages are always kept (pgoutput sends one per relation per decoding run, maybe inside an already
 * captured transaction) and checked against the chain's schema by OID, name and columns.
 */
export async function capturePgoutput(control: pg.Client, p: CaptureParams): Promise<CaptureResult> {
  const byOid = new Map<number, TableEntry>();
  const byName = new Map<string, TableEntry>();
  for (const t of p.tables) {
    if (t.objects[0] !== undefined) byOid.set(Number(t.objects[0]), t);
    byName.set(`${t.schema}.${t.name}`, t);
  }
  const rels = new Map<number, RelState>();
  const classify = (rel: Relation): RelState => {
    const key = `${rel.schema}.${rel.name}`;
    const t = byOid.get(rel.oid);
    if (t) {
      const was = `${t.schema}.${t.name}`;
      if (was !== key) return { kind: 'changed', why: `table ${was} was renamed to ${key} between backups` };
      if (!sameColumns(rel, t)) return { kind: 'changed', why: `the columns of ${key} changed between backups (${rel.columns.map((c) => c.name).join(', ')})` };
      return { kind: 'chain', key };
    }
    if (byName.has(key)) return { kind: 'changed', why: `table ${key} was dropped and created again between backups` };
    return { kind: 'foreign', table: key };
  };
  const stats: ChangeStats = { transactions: 0, inserts: 0, updates: 0, deletes: 0, truncates: 0 };
  const delta = new Map<string, { truncated: boolean; delta: number }>();
  const foreign = new Map<number, ForeignTable>();
  let firstCommitUs: bigint | null = null;
  let commitUs = 0n;
  let end: CaptureResult['end'] = null;
  let needsFull: string | null = null;
  let skipping = true;
  let inMarker = false;
  const d = (key: string) => {
    let x = delta.get(key);
    if (!x) delta.set(key, (x = { truncated: false, delta: 0 }));
    return x;
  };
  /** The row change's table, or null to leave it out (a foreign table's). */
  const rowTable = (relid: number): string | null => {
    const s = rels.get(relid);
    if (!s) throw new Error(`pgoutput: a change names relation ${relid} before its Relation message`);
    if (s.kind === 'chain') return s.key;
    if (s.kind === 'changed') needsFull ??= s.why;
    else {
      const f = foreign.get(relid);
      if (f) f.lastCommitUs = commitUs;
      else foreign.set(relid, { oid: relid, table: s.table, firstCommitUs: commitUs, lastCommitUs: commitUs });
    }
    return null;
  };

  const opts = pgoutputOptions(p.publication).map(quoteLiteral).join(', ');
  const sql = `COPY (SELECT data FROM pg_logical_slot_peek_binary_changes(${quoteLiteral(p.slot)}, ${quoteLiteral(p.upto)}::pg_lsn, NULL, ${opts})) TO STDOUT (FORMAT binary)`;
  const splitter = new CopyRowSplitter();
  const stream = control.query(copyTo(sql));
  // A failed write (a full disk) must not leave the loop: destroying a COPY TO stream mid-way leaves the connection
  // in COPY mode, every later query on it (advisory unlock, slot cleanup) waits forever, and Node exits with 13
  // instead of the real error. Drain the COPY, then throw.
  let writeError: unknown = null;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (end || needsFull || writeError) continue; // drain: the server decodes up to `upto` anyway, and COPY cannot stop early
    const out: Buffer[] = [];
    for (const m of splitter.push(chunk)) {
      const tag = messageTag(m);
      if (tag === 'R') {
        const msg = parseMessage(m);
        if (msg.tag === 'R') rels.set(msg.relation.oid, classify(msg.relation));
        out.push(frame(m));
        continue;
      }
      if (tag === 'B') {
        skipping = beginFinalLsn(m) < p.lastEnd;
        if (!skipping) {
          stats.transactions++;
          commitUs = m.readBigInt64BE(9);
          firstCommitUs ??= commitUs;
          out.push(frame(m));
        }
        continue;
      }
      if (skipping) continue;
      if (tag === 'I' || tag === 'U' || tag === 'D') {
        const key = rowTable(rowRelid(m));
        if (key === null) continue;
        if (tag === 'I') (stats.inserts++, d(key).delta++);
        else if (tag === 'U') stats.updates++;
        else (stats.deletes++, d(key).delta--);
        out.push(lengthPrefix(m.length), m); // no copy per row: one concat per chunk
      } else if (tag === 'T') {
        const msg = parseMessage(m);
        if (msg.tag !== 'T') continue;
        const keep = msg.relids.filter((r) => rowTable(r) !== null);
        for (const r of keep) {
          stats.truncates++;
          const x = d((rels.get(r) as { key: string }).key);
          x.truncated = true;
          x.delta = 0;
        }
        if (keep.length === msg.relids.length) out.push(frame(m));
        else if (keep.length > 0) out.push(frame(truncateMessage(keep, m.readUInt8(5))));
      } else if (tag === 'M') {
        const msg = parseMessage(m);
        if (msg.tag === 'M' && msg.transactional && msg.prefix === p.marker.prefix && msg.content.toString('utf8') === p.marker.content) inMarker = true;
      } else if (tag === 'C' && inMarker) {
        end = { lsn: m.readBigInt64BE(10), commitUs: m.readBigInt64BE(18) };
        break;
      }
      if (needsFull) break;
    }
    if (out.length > 0 && !needsFull) await p.writer.write(Buffer.concat(out)).catch((e: unknown) => (writeError = e));
  }
  if (writeError) throw writeError;
  return { stats, delta, firstCommitUs, end, foreign: [...foreign.values()], needsFull };
}

/** A TRUNCATE message for some of the relations of another (the others were foreign tables). */
function truncateMessage(relids: number[], options: number): Buffer {
  const b = Buffer.alloc(6 + 4 * relids.length);
  b.write('T', 0, 'latin1');
  b.writeInt32BE(relids.length, 1);
  b.writeUInt8(options, 5);
  relids.forEach((r, i) => b.writeInt32BE(r, 6 + 4 * i));
  return b;
}
