/**
 * The two steps of murmur3 (32-bit) that the seed generator's hash (src/seed/random.ts) and the row digest
 * (src/archive/row-digest.ts) share. Both run per row on hot paths: small functions V8 inlines.
 */

/** One 32-bit word into the running hash (murmur3's body step with its c1/c2 constants). */
export function mixWord(h: number, word: number): number {
  let k = Math.imul(word | 0, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser (fmix32): every input bit reaches every output bit. Returns an unsigned 32-bit number. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
