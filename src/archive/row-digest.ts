import { fmix32 } from '../murmur3.ts';

/**
 * An order-independent fingerprint of a table's content: every COPY row (in text, the bytes before its newline; in
 * binary, one tuple: see BinaryRowDigest) is hashed on its own, and the row hashes are added up. Addition is commutative, so the digest does not depend on
 * the physical order rows come out in (a restored table's order differs from the source's after free-space reuse),
 * and duplicates count (a sum, not an xor). The same rows under the same pinned COPY settings (copySessionSql)
 * give the same digest; one changed byte in one row changes it with probability 1 - 2^-64.
 *
 * The row hash is two 32-bit murmur3-style lanes with different constants (64 bits; two independent sums mod
 * 2^32). This runs in the backup's hot path on every byte, so it is a word-at-a-time loop (DataView loads, Math.imul)
 * with no allocation per row; it is not a cryptographic hash (the sha256 of every file guards against tampering).
 * COPY text escapes newlines inside values (\n), so byte 10 only ever ends a row.
 */
export const ROW_DIGEST_ALGORITHM = 'rowsum64-v1';

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const D1 = 0x85ebca6b;
const D2 = 0xc2b2ae35;

/** How a data stream's rows are written: COPY's text format (older backups, and tables with types whose binary form is not portable) or its binary format. */
export type CopyFormat = 'text' | 'binary';

/** What both digests share: the row hash and its two sums. */
abstract class RowSums {
  rows = 0;
  bytes = 0;
  private s1 = 0;
  private s2 = 0;

  /** Adds a chunk of the COPY stream; rows may span chunks. */
  abstract update(chunk: Buffer): void;

  /** Bytes of a row left without its end when the stream ended (COPY never does that); hashed as a row. */
  protected abstract flush(): void;

  /**
   * One row's hash, added to the sums. Words are read little-endian through a DataView (one unaligned load per
   * 4 bytes instead of four byte loads and shifts: about twice the throughput, same values).
   */
  protected addRow(view: DataView, b: Buffer, start: number, end: number): void {
    let h1 = 0x9747b28c;
    let h2 = 0x2f8f1b4d;
    const len = end - start;
    const n4 = start + (len & ~3);
    let i = start;
    for (; i < n4; i += 4) {
      const w = view.getInt32(i, true);
      let k = Math.imul(w, C1);
      k = Math.imul((k << 15) | (k >>> 17), C2);
      h1 ^= k;
      h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
      let j = Math.imul(w, D1);
      j = Math.imul((j << 13) | (j >>> 19), D2);
      h2 ^= j;
      h2 = (Math.imul((h2 << 17) | (h2 >>> 15), 9) + 0x52dce729) | 0;
    }
    let t = 0;
    switch (len & 3) {
      case 3: t ^= b[i + 2]! << 16; // falls through
      case 2: t ^= b[i + 1]! << 8; // falls through
      case 1: {
        t ^= b[i]!;
        let k = Math.imul(t, C1);
        k = Math.imul((k << 15) | (k >>> 17), C2);
        h1 ^= k;
        let j = Math.imul(t, D1);
        j = Math.imul((j << 13) | (j >>> 19), D2);
        h2 ^= j;
      }
    }
    this.s1 = (this.s1 + fmix32(h1 ^ len)) >>> 0;
    this.s2 = (this.s2 + fmix32(h2 ^ Math.imul(len, 0x27d4eb2f))) >>> 0;
    this.rows++;
  }

  /** 16 hex digits. */
  digest(): string {
    this.flush();
    return hex8(this.s1) + hex8(this.s2);
  }
}

/**
 * The digest of COPY text: a row is the bytes before its newline. A row that spans chunks is gathered as a list of
 * pieces and joined once at its newline (joining at every chunk copied a row of many megabytes once per chunk).
 */
export class RowDigest extends RowSums {
  private carry: Buffer[] = [];

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    let start = 0;
    let nl = chunk.indexOf(10);
    if (nl === -1) {
      if (chunk.length > 0) this.carry.push(Buffer.from(chunk));
      return;
    }
    if (this.carry.length > 0) {
      const row = Buffer.concat([...this.carry, chunk.subarray(0, nl)]);
      this.carry = [];
      this.addRow(viewOf(row), row, 0, row.length);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    const view = viewOf(chunk);
    while (nl !== -1) {
      this.addRow(view, chunk, start, nl);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.carry = [Buffer.from(chunk.subarray(start))];
  }

  protected flush(): void {
    if (this.carry.length > 0) {
      const row = Buffer.concat(this.carry);
      this.carry = [];
      this.addRow(viewOf(row), row, 0, row.length);
    }
  }
}

/** COPY's binary signature: "PGCOPY\n\377\r\n\0", then a 32-bit flags field and a 32-bit header extension length. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_FIXED = SIGNATURE.length + 8;

/**
 * The digest of a COPY binary stream (the file header, tuples, the -1 trailer; several streams one after the
 * other are read as one): a row is a tuple's bytes, from its 16-bit field count through its last field (each
 * field a 32-bit length, -1 for NULL, and its bytes). The header and trailer are not rows. Rows are found by
 * walking the field lengths: a row inside one chunk is hashed where it lies; only a row that spans chunks is
 * gathered (its pieces kept in a list and joined once, so a row of many megabytes costs one copy).
 */
export class BinaryRowDigest extends RowSums {
  /** Pieces of the unfinished header or row, from earlier chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Whether the next item is a file header (at the start, and after a trailer). */
  private atHeader = true;

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    let pos = 0;
    if (this.pendingBytes > 0) {
      const end = this.itemEnd(this.pending, this.pendingBytes, chunk);
      if (end === -1) {
        this.pending.push(Buffer.from(chunk));
        this.pendingBytes += chunk.length;
        return;
      }
      const item = Buffer.concat([...this.pending, chunk.subarray(0, end - this.pendingBytes)]);
      pos = end - this.pendingBytes;
      this.pending = [];
      this.pendingBytes = 0;
      this.take(viewOf(item), item, 0, item.length);
    }
    const view = viewOf(chunk);
    const n = chunk.length;
    while (pos < n) {
      const end = this.atHeader ? headerEnd(chunk, pos, n) : rowEnd(view, pos, n);
      if (end === -1) {
        this.pending = [Buffer.from(chunk.subarray(pos))];
        this.pendingBytes = n - pos;
        return;
      }
      this.take(view, chunk, pos, end);
      pos = end;
    }
  }

  /** A complete item at [start, end): a header (its signature checked where its end was found), the trailer, or a row (hashed). */
  private take(view: DataView, b: Buffer, start: number, end: number): void {
    if (this.atHeader) {
      this.atHeader = false;
    } else if (end - start === 2 && view.getInt16(start) === -1) {
      this.atHeader = true; // the trailer: another stream may follow
    } else {
      this.addRow(view, b, start, end);
    }
  }

  /**
   * Where the item that starts with the pending pieces ends, as an offset into pending + chunk; -1 if it does
   * not end in this chunk. Reads only the few header and length bytes, through a view of the pieces.
   */
  private itemEnd(parts: Buffer[], partsBytes: number, chunk: Buffer): number {
    const total = partsBytes + chunk.length;
    const byteAt = (i: number): number => {
      if (i >= partsBytes) return chunk[i - partsBytes]!;
      for (const p of parts) {
        if (i < p.length) return p[i]!;
        i -= p.length;
      }
      return 0;
    };
    const int = (i: number, len: 2 | 4): number => {
      let v = 0;
      for (let k = 0; k < len; k++) v = (v << 8) | byteAt(i + k);
      return len === 2 ? (v << 16) >> 16 : v | 0;
    };
    if (this.atHeader) {
      if (total >= SIGNATURE.length && SIGNATURE.some((c, k) => byteAt(k) !== c)) throw notBinary();
      if (total < HEADER_FIXED) return -1;
      const end = HEADER_FIXED + (int(HEADER_FIXED - 4, 4) >>> 0);
      return end <= total ? end : -1;
    }
    if (total < 2) return -1;
    const fields = int(0, 2);
    let i = 2;
    if (fields === -1) return i;
    for (let f = 0; f < fields; f++) {
      if (i + 4 > total) return -1;
      const len = int(i, 4);
      i += 4 + (len > 0 ? len : 0);
      if (i > total) return -1;
    }
    return i;
  }

  protected flush(): void {
    if (this.pendingBytes > 0) {
      const rest = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.addRow(viewOf(rest), rest, 0, rest.length);
    }
  }
}

function notBinary(): Error {
  return new Error('not a COPY binary stream (bad signature)');
}

/** The end of the file header that starts at pos, or -1 if the chunk ends before it does. */
function headerEnd(b: Buffer, pos: number, n: number): number {
  if (n - pos >= SIGNATURE.length && b.compare(SIGNATURE, 0, SIGNATURE.length, pos, pos + SIGNATURE.length) !== 0) throw notBinary();
  if (n - pos < HEADER_FIXED) return -1;
  const end = pos + HEADER_FIXED + b.readUInt32BE(pos + HEADER_FIXED - 4);
  return end <= n ? end : -1;
}

/** The end of the tuple (or the 2-byte trailer) that starts at pos, or -1 if the chunk ends before it does. */
function rowEnd(view: DataView, pos: number, n: number): number {
  if (n - pos < 2) return -1;
  const fields = view.getInt16(pos);
  let i = pos + 2;
  if (fields === -1) return i;
  for (let f = 0; f < fields; f++) {
    if (i + 4 > n) return -1;
    const len = view.getInt32(i);
    i += 4 + (len > 0 ? len : 0);
    if (i > n) return -1;
  }
  return i;
}

/** The digest for a data stream of the given COPY format (absent: text, as in manifests before binary). */
export function rowDigestFor(format?: CopyFormat): RowDigest | BinaryRowDigest {
  return format === 'binary' ? new BinaryRowDigest() : new RowDigest();
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Sum of digests (of a table's chunks): the digest of the union of their rows. */
export function addDigests(digests: string[]): string {
  let a = 0;
  let b = 0;
  for (const d of digests) {
    if (!/^[0-9a-f]{16}$/.test(d)) throw new Error(`not a row digest: ${d}`);
    a = (a + parseInt(d.slice(0, 8), 16)) >>> 0;
    b = (b + parseInt(d.slice(8), 16)) >>> 0;
  }
  return hex8(a) + hex8(b);
}
