/**
 * Deterministic randomness. Everything the seed generator writes derives from (seed, table, user, index) through
 * these functions, never from Math.random or the clock, so the same --seed gives byte-identical data.
 */
import { fmix32, mixWord } from '../murmur3.ts';

/** 32-bit mix of a sequence of integers (murmur3's finaliser over a running hash). */
export function hash32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = mixWord(h, p);
    // Parts may exceed 32 bits (user indexes times trade counts); fold the high half in too.
    const hi = Math.floor(p / 4294967296);
    if (hi !== 0) h = Math.imul(h ^ hi, 0x85ebca6b);
  }
  return fmix32(h);
}

/** hash32 of exactly four 32-bit parts, without the rest-array: for per-row use on hot paths. Same result as hash32(a, b, c, d) for parts < 2^32. */
export function hash4(a: number, b: number, c: number, d: number): number {
  let h = 0x9e3779b9;
  h = mixWord(h, a);
  h = mixWord(h, b);
  h = mixWord(h, c);
  h = mixWord(h, d);
  return fmix32(h);
}

/** A string to a 32-bit number (FNV-1a), for seeds given as text and for table names. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** sfc32: small, fast, and good enough for test data (passes PractRand to 2^40+). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...parts: number[]) {
    this.a = hash32(...parts, 1);
    this.b = hash32(...parts, 2);
    this.c = hash32(...parts, 3);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: `weighted([['FREE', 55], ['PRO', 10]])`. */
  weighted<T>(table: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of table) total += w;
    let x = this.next() * total;
    for (const [v, w] of table) {
      x -= w;
      if (x < 0) return v;
    }
    return table[table.length - 1]![0];
  }

  /** Log-uniform in [min, max): many small values, few large (trade sizes). */
  logUniform(min: number, max: number): number {
    return Math.exp(Math.log(min) + this.next() * (Math.log(max) - Math.log(min)));
  }

  /** Standard normal (Box-Muller, one value per call). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** `chars` random lower-case hex digits (8 per u32, most significant first; the rest of the last one dropped). */
  hex(chars: number): string {
    let s = '';
    while (s.length < chars) {
      const t = this.u32();
      // Byte lookups: the same digits as t.toString(16).padStart(8, '0'), several times faster.
      s += HEX_BYTE[t >>> 24]! + HEX_BYTE[(t >>> 16) & 255]! + HEX_BYTE[(t >>> 8) & 255]! + HEX_BYTE[t & 255]!;
    }
    return s.length === chars ? s : s.slice(0, chars);
  }
}
