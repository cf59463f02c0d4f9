/**
 * pgoutput (logical replication protocol, version 1) messages, as returned by
 * pg_logical_slot_peek_binary_changes(slot, …, 'proto_version', '1', 'publication_names', pub, 'messages', 'true').
 * Column values arrive as text rendered by the type's output function in the decoding session (so that session
 * pins DateStyle, extra_float_digits…: see OUTPUT_SETTINGS), NaN and ±Infinity included, unlike wal2json's JSON.
 * Layout: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 */

/** What a change file of this format holds: each pgoutput message prefixed by its length (int32, big-endian). */
export const PGOUTPUT_FORMAT = 'pgoutput-1';

export function pgoutputOptions(publication: string): string[] {
  return ['proto_version', '1', 'publication_names', publication, 'messages', 'true'];
}

/** 2000-01-01T00:00:00Z in microseconds since the Unix epoch: pgoutput's timestamps count from there. */
const PG_EPOCH_US = 946_684_800_000_000n;

export interface RelationColumn {
  name: string;
  typeOid: number;
  /** Part of the replica identity (flag 1). */
  key: boolean;
}

export interface Relation {
  oid: number;
  schema: string;
  name: string;
  columns: RelationColumn[];
}

/** A column value: null, unchanged TOAST (not sent: keep the old value), or its text (UTF-8: see parseMessage). */
export type TupleValue = null | 'unchanged' | Buffer;

export type PgoMessage =
  | { tag: 'B'; finalLsn: bigint; commitTimeUs: bigint; xid: number }
  | { tag: 'C'; commitLsn: bigint; endLsn: bigint; commitTimeUs: bigint }
  | { tag: 'R'; relation: Relation }
  | { tag: 'I'; relid: number; tuple: TupleValue[] }
  /** oldKind K: the old key columns (the others null); O: the whole old row (REPLICA IDENTITY FULL). */
  | { tag: 'U'; relid: number; oldKind: 'K' | 'O' | null; old: TupleValue[] | null; tuple: TupleValue[] }
  | { tag: 'D'; relid: number; oldKind: 'K' | 'O'; old: TupleValue[] }
  | { tag: 'T'; relids: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'M'; transactional: boolean; lsn: bigint; prefix: string; content: Buffer }
  | { tag: 'Y' | 'O' | '?' };

class Reader {
  pos = 0;
  constructor(private readonly b: Buffer) {}
  u8(): number {
    return this.b.readUInt8(this.pos++);
  }
  i16(): number {
    const v = this.b.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    const v = this.b.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  i64(): bigint {
    const v = this.b.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  cstr(): string {
    const end = this.b.indexOf(0, this.pos);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const s = this.b.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    if (this.pos + n > this.b.length) throw new Error('pgoutput: value runs past the message');
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  tuple(): TupleValue[] {
    const n = this.i16();
    const out: TupleValue[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const kind = this.u8();
      if (kind === 0x6e /* n */) out[i] = null;
      else if (kind === 0x75 /* u */) out[i] = 'unchanged';
      else if (kind === 0x74 /* t */ || kind === 0x62 /* b */) out[i] = this.bytes(this.i32());
      else throw new Error(`pgoutput: unknown tuple value kind ${kind}`);
    }
    return out;
  }
}

/** The first byte of a message: cheap enough to call on every captured row. */
export function messageTag(b: Buffer): string {
  return String.fromCharCode(b[0]!);
}

/** A Begin message's commit LSN, without decoding the rest. */
export function beginFinalLsn(b: Buffer): bigint {
  return b.readBigInt64BE(1);
}

/** The relation oid of an I/U/D message. */
export function rowRelid(b: Buffer): number {
  return b.readInt32BE(1);
}

/**
 * Names and values arrive in the decoding session's client_encoding (pgoutput converts them like any text sent to a
 * client), which capture pins to UTF8: they are UTF-8 whatever the database encoding.
 */
export function parseMessage(b: Buffer): PgoMessage {
  const r = new Reader(b);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      return { tag, finalLsn: r.i64(), commitTimeUs: r.i64(), xid: r.i32() };
    case 'C': {
      r.u8(); // flags (unused)
      return { tag, commitLsn: r.i64(), endLsn: r.i64(), commitTimeUs: r.i64() };
    }
    case 'R': {
      const oid = r.i32();
      const schema = r.cstr();
      const name = r.cstr();
      r.u8(); // replica identity setting
      const n = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.u8();
        const colName = r.cstr();
        const typeOid = r.i32();
        r.i32(); // typmod
        columns.push({ name: colName, typeOid, key: (flags & 1) === 1 });
      }
      return { tag, relation: { oid, schema: schema === '' ? 'pg_catalog' : schema, name, columns } };
    }
    case 'I': {
      const relid = r.i32();
      r.u8(); // 'N'
      return { tag, relid, tuple: r.tuple() };
    }
    case 'U': {
      const relid = r.i32();
      let kind = r.u8();
      let old: TupleValue[] | null = null;
      let oldKind: 'K' | 'O' | null = null;
      if (kind === 0x4b /* K */ || kind === 0x4f /* O */) {
        oldKind = kind === 0x4b ? 'K' : 'O';
        old = r.tuple();
        kind = r.u8();
      }
      if (kind !== 0x4e /* N */) throw new Error('pgoutput: UPDATE without a new tuple');
      return { tag, relid, oldKind, old, tuple: r.tuple() };
    }
    case 'D': {
      const relid = r.i32();
      const oldKind = r.u8() === 0x4f ? 'O' : 'K';
      return { tag, relid, oldKind, old: r.tuple() };
    }
    case 'T': {
      const n = r.i32();
      const opts = r.u8();
      const relids: number[] = [];
      for (let i = 0; i < n; i++) relids.push(r.i32());
      return { tag, relids, cascade: (opts & 1) === 1, restartIdentity: (opts & 2) === 2 };
    }
    case 'M': {
      const flags = r.u8();
      const lsn = r.i64();
      const prefix = r.cstr();
      const len = r.i32();
      return { tag, transactional: (flags & 1) === 1, lsn, prefix, content: r.bytes(len) };
    }
    case 'Y':
    case 'O':
      return { tag };
    default:
      return { tag: '?' };
  }
}

/** Microseconds since 2000-01-01 -> ISO 8601 UTC with microseconds ('2026-11-26T10:51:22.101018Z'). */
export function pgTimeToIso(us: bigint): string {
  const unix = us + PG_EPOCH_US;
  const ms = Number(unix / 1000n);
  const frac = (((unix % 1_000_000n) + 1_000_000n) % 1_000_000n).toString().padStart(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/** Microseconds since 2000-01-01 -> microseconds since the Unix epoch. */
export function pgTimeToUnixMicros(us: bigint): bigint {
  return us + PG_EPOCH_US;
}

export function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * Splits a stream of length-prefixed records (the change file, or a binary COPY's single-column rows) into
 * messages. Feed it chunks; it yields whole records, copying only records that straddle two chunks.
 */
export class RecordSplitter {
  private rest: Buffer | null = null;
  *push(chunk: Buffer): Generator<Buffer> {
    const b = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let pos = 0;
    while (b.length - pos >= 4) {
      const len = b.readInt32BE(pos);
      if (len < 0) throw new Error('change file: negative record length');
      if (b.length - pos - 4 < len) break;
      yield b.subarray(pos + 4, pos + 4 + len);
      pos += 4 + len;
    }
    this.rest = pos < b.length ? Buffer.from(b.subarray(pos)) : null;
  }
  end(): void {
    if (this.rest && this.rest.length > 0) throw new Error(`change file: ${this.rest.length} trailing bytes (truncated?)`);
  }
}

/** The 4-byte length prefix of a change-file record. */
export function lengthPrefix(n: number): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeInt32BE(n, 0);
  return head;
}

/** One record of a change file: the length prefix and the message. */
export function frame(msg: Buffer): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeInt32BE(msg.length, 0);
  return Buffer.concat([head, msg]);
}

const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * Splits a binary COPY of one bytea column (`COPY (SELECT data FROM pg_logical_slot_peek_binary_changes(…)) TO
 * STDOUT (FORMAT binary)`) into the column's values: no hex text, no per-row objects.
 */
export class CopyRowSplitter {
  private rest: Buffer | null = null;
  private headerDone = false;
  private ended = false;
  *push(chunk: Buffer): Generator<Buffer> {
    const b = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let pos = 0;
    if (!this.headerDone) {
      if (b.length < 19) {
        this.rest = Buffer.from(b);
        return;
      }
      if (!b.subarray(0, 11).equals(COPY_SIGNATURE)) throw new Error('not a binary COPY stream');
      const ext = b.readInt32BE(15);
      if (b.length < 19 + ext) {
        this.rest = Buffer.from(b);
        return;
      }
      pos = 19 + ext;
      this.headerDone = true;
    }
    while (!this.ended && b.length - pos >= 2) {
      const fields = b.readInt16BE(pos);
      if (fields === -1) {
        this.ended = true;
        pos += 2;
        break;
      }
      if (fields !== 1) throw new Error(`binary COPY: ${fields} fields, expected 1`);
      if (b.length - pos < 6) break;
      const len = b.readInt32BE(pos + 2);
      if (len < 0) throw new Error('binary COPY: NULL change');
      if (b.length - pos - 6 < len) break;
      yield b.subarray(pos + 6, pos + 6 + len);
      pos += 6 + len;
    }
    this.rest = pos < b.length ? Buffer.from(b.subarray(pos)) : null;
  }
}
