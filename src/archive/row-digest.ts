import { fmix32 } from '../murmur3.ts';

/**
 * An order-independent fingerprint of a table's content: every COPY text row (the bytes before its newline) is
 * hashed on its own, and the row hashes are added up. Addition is commutative, so the digest does not depend on
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

export class RowDigest {
  rows = 0;
  bytes = 0;
  private s1 = 0;
  private s2 = 0;
  private carry: Buffer | null = null;

  /** Adds a chunk of COPY text; rows may span chunks. */
  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    let start = 0;
    let nl = chunk.indexOf(10);
    if (nl === -1) {
      this.carry = this.carry ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk);
      return;
    }
    if (this.carry) {
      const row = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.carry = null;
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
    if (start < chunk.length) this.carry = Buffer.from(chunk.subarray(start));
  }

  /**
   * One row's hash, added to the sums. Words are read little-endian through a DataView (one unaligned load per
   * 4 bytes instead of four byte loads and shifts: about twice the throughput, same values).
   */
  private addRow(view: DataView, b: Buffer, start: number, end: number): void {
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

  /** 16 hex digits. A final row without its newline (never produced by COPY) is counted as a row. */
  digest(): string {
    if (this.carry && this.carry.length > 0) {
      const row = this.carry;
      this.carry = null;
      this.addRow(viewOf(row), row, 0, row.length);
    }
    return hex8(this.s1) + hex8(this.s2);
  }
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
