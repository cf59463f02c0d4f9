import { hash32, hashString } from './random.ts';

/**
 * Deterministic, UUID-shaped ids: `SSSSSSSS-TTTT-8000-a000-NNNNNNNNNNNN`, with S from the seed, T from the table
 * and N a per-table ordinal. Version nibble 8 (RFC 9562's custom UUID) and variant 10xx keep them valid UUIDs.
 * They ascend with N, so primary-key index builds see sorted input, and `ORDER BY id` is generation order.
 * Different seeds give disjoint ids (up to a 32-bit hash collision), so --append with a new seed never conflicts.
 */
export class IdFactory {
  readonly seedTag: string;
  private readonly prefixes = new Map<string, string>();

  constructor(seed: number) {
    this.seedTag = hash32(seed, 0x5eed).toString(16).padStart(8, '0');
  }

  prefix(table: string): string {
    let p = this.prefixes.get(table);
    if (!p) {
      p = `${this.seedTag}-${(hashString(table) & 0xffff).toString(16).padStart(4, '0')}-8000-a000-`;
      this.prefixes.set(table, p);
    }
    return p;
  }

  id(table: string, n: number): string {
    return this.prefix(table) + n.toString(16).padStart(12, '0');
  }
}

/** Ordinals of per-user child rows: user u's j-th child is u * CHILD_SLOTS + j (gaps are fine; ids stay stable). */
export const CHILD_SLOTS = 16;
