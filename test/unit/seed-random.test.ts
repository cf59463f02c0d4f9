import { describe, expect, test } from '@jest/globals';
import { Rng } from '../../src/seed/random.ts';

/** The digits Rng.hex produced before its lookup-table version: the seed's bytes must not change. */
function referenceHex(r: Rng, chars: number): string {
  let s = '';
  while (s.length < chars) s += r.u32().toString(16).padStart(8, '0');
  return s.slice(0, chars);
}

describe('Rng.hex', () => {
  test('same digits, and the same generator state afterwards, as u32().toString(16).padStart(8, "0") per word', () => {
    for (let seed = 0; seed < 200; seed++) {
      for (const chars of [1, 7, 8, 9, 32, 40, 48, 64]) {
        const [a, b] = [new Rng(seed, chars), new Rng(seed, chars)];
        expect(a.hex(chars)).toBe(referenceHex(b, chars));
        expect(a.u32()).toBe(b.u32());
      }
    }
  });
});
