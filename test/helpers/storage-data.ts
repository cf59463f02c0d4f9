import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** Deterministic test content: byte i of the stream is a function of i alone, so any range can be recomputed. */
const BLOCK = 1 << 16;

function block(index: number): Buffer {
  // 64 KiB of sha256-derived bytes per block: incompressible, different per block, cheap to regenerate.
  const b = Buffer.alloc(BLOCK);
  const seed = createHash('sha256').update(`axisor-${index}`).digest();
  for (let off = 0; off < BLOCK; off += 32) seed.copy(b, off), (seed[off % 32]! ^= off & 0xff);
  return b;
}

export function expectedRange(start: number, endInclusive: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = Math.floor(start / BLOCK); i * BLOCK <= endInclusive; i++) parts.push(block(i));
  const all = Buffer.concat(parts);
  const base = Math.floor(start / BLOCK) * BLOCK;
  return all.subarray(start - base, endInclusive - base + 1);
}

/** A stream of `bytes` test bytes, optionally pausing `delayMs` after each MiB (to be killed mid-upload). */
export function testStream(bytes: number, delayMs = 0): Readable {
  let i = 0;
  return Readable.from((async function* () {
    for (; i * BLOCK < bytes; i++) {
      const b = block(i);
      yield (i + 1) * BLOCK > bytes ? b.subarray(0, bytes - i * BLOCK) : b;
      if (delayMs && i % 16 === 15) await new Promise((r) => setTimeout(r, delayMs));
    }
  })(), { objectMode: false });
}

export function sha256OfTestStream(bytes: number): string {
  const h = createHash('sha256');
  for (let i = 0; i * BLOCK < bytes; i++) {
    const b = block(i);
    h.update((i + 1) * BLOCK > bytes ? b.subarray(0, bytes - i * BLOCK) : b);
  }
  return h.digest('hex');
}
