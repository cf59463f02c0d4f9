import { describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import type { Connection } from 'pg';
import { CopyOutStream } from '../../src/archive/copy-out.ts';
import { RowDigest } from '../../src/archive/row-digest.ts';

/**
 * rowsum64-v1 as first written (byte loads, one row at a time, the carry as its own buffer): the reference the
 * faster implementation must match on every input, since backups made before it are verified against it.
 */
class ReferenceRowsum64v1 {
  rows = 0;
  private s1 = 0;
  private s2 = 0;
  private pending: number[] = [];
  update(chunk: Uint8Array): void {
    for (const byte of chunk) {
      if (byte === 10) this.addRow(this.pending.splice(0));
      else this.pending.push(byte);
    }
  }
  private addRow(b: number[]): void {
    const C1 = 0xcc9e2d51, C2 = 0x1b873593, D1 = 0x85ebca6b, D2 = 0xc2b2ae35;
    const fmix = (h: number) => {
      h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
      return h >>> 0;
    };
    let h1 = 0x9747b28c;
    let h2 = 0x2f8f1b4d;
    const len = b.length;
    let i = 0;
    for (; i + 4 <= len; i += 4) {
      const w = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      let k = Math.imul(w, C1); k = Math.imul((k << 15) | (k >>> 17), C2); h1 ^= k;
      h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
      let j = Math.imul(w, D1); j = Math.imul((j << 13) | (j >>> 19), D2); h2 ^= j;
      h2 = (Math.imul((h2 << 17) | (h2 >>> 15), 9) + 0x52dce729) | 0;
    }
    if (len & 3) {
      let t = 0;
      for (let s = (len & 3) - 1; s >= 0; s--) t ^= b[i + s]! << (8 * s);
      let k = Math.imul(t, C1); k = Math.imul((k << 15) | (k >>> 17), C2); h1 ^= k;
      let j = Math.imul(t, D1); j = Math.imul((j << 13) | (j >>> 19), D2); h2 ^= j;
    }
    this.s1 = (this.s1 + fmix(h1 ^ len)) >>> 0;
    this.s2 = (this.s2 + fmix(h2 ^ Math.imul(len, 0x27d4eb2f))) >>> 0;
    this.rows++;
  }
  digest(): string {
    if (this.pending.length > 0) this.addRow(this.pending.splice(0));
    return this.s1.toString(16).padStart(8, '0') + this.s2.toString(16).padStart(8, '0');
  }
}

/** A small deterministic PRNG (mulberry32), so a failure can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Feeds `text` in pieces cut at the given positions; each piece is a view at an odd offset into a bigger buffer. */
function pieces(text: Buffer, cuts: number[]): Buffer[] {
  const at = [0, ...cuts.filter((c) => c > 0 && c < text.length).sort((a, b) => a - b), text.length];
  const out: Buffer[] = [];
  for (let k = 0; k + 1 < at.length; k++) {
    const len = at[k + 1]! - at[k]!;
    const host = Buffer.alloc(len + 7, 0x55);
    text.copy(host, 3, at[k]!, at[k + 1]!);
    out.push(host.subarray(3, 3 + len));
  }
  return out;
}

function both(chunks: Buffer[]): [{ digest: string; rows: number; bytes: number }, { digest: string; rows: number }] {
  const d = new RowDigest();
  const r = new ReferenceRowsum64v1();
  for (const c of chunks) {
    d.update(c);
    r.update(c);
  }
  return [{ digest: d.digest(), rows: d.rows, bytes: d.bytes }, { digest: r.digest(), rows: r.rows }];
}

describe('rowsum64-v1: the word-at-a-time implementation gives the reference results', () => {
  test('a known value stays known (backups already written carry it)', () => {
    const [d] = both([Buffer.from('1\tabc\t\\N\n22\t{"a": 1}\t2026-11-30 10:00:00+00\n\n333\n')]);
    expect(d).toEqual({ digest: '265c55162deac5cc', rows: 4, bytes: 49 }); // computed with the implementation of commit 37711df
  });

  test('edge cases: empty input, empty rows, every tail length, no final newline, only newlines', () => {
    const cases = ['', '\n', '\n\n\n', 'a', 'ab\n', 'abc\nabcd\nabcde\nabcdef\nabcdefg\nabcdefgh\n', 'no newline at the end', '\n\nx\n\ny', 'é\t€\t\u{1f600}\n'];
    for (const c of cases) {
      const b = Buffer.from(c);
      const [d, r] = both([b]);
      expect({ c, digest: d.digest, rows: d.rows }).toEqual({ c, digest: r.digest, rows: r.rows });
      // Every single cut point, and one byte at a time.
      for (let cut = 1; cut < b.length; cut++) expect(both(pieces(b, [cut]))[0].digest).toBe(r.digest);
      expect(both(pieces(b, Array.from({ length: b.length }, (_, i) => i)))[0]).toEqual({ ...d });
    }
  });

  test('random bytes (all 256 values, newlines at random) cut at random places, incl. rows spanning many chunks', () => {
    const rand = rng(14);
    for (let round = 0; round < 60; round++) {
      const len = Math.floor(rand() * 5000);
      const nlRate = [0.5, 0.05, 0.003, 0][round % 4]!;
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = rand() < nlRate ? 10 : Math.floor(rand() * 256);
      const [d, r] = both(pieces(b, []));
      expect(d.digest).toBe(r.digest);
      expect(d.rows).toBe(r.rows);
      expect(d.bytes).toBe(len);
      const cuts = Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * len));
      expect(both(pieces(b, cuts))[0]).toEqual(d);
    }
  });

  test('COPY-text-like rows, split like socket chunks', () => {
    const rand = rng(7);
    const rows = Array.from({ length: 1000 }, (_, i) => `${i}\t${rand().toString(36).repeat(1 + (i % 5))}\t{"k": ${i}}\t\\N\n`);
    const text = Buffer.from(rows.join(''));
    const [d, r] = both([text]);
    expect(d.digest).toBe(r.digest);
    expect(d.rows).toBe(1000);
    for (const step of [1, 3, 4, 5, 64, 1000, 65536]) {
      expect(both(pieces(text, Array.from({ length: Math.ceil(text.length / step) }, (_, k) => k * step)))[0]).toEqual(d);
    }
  });
});

/** Protocol messages as the server sends them: a code byte, a 4-byte length (itself included), the payload. */
function msg(code: string, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const h = Buffer.alloc(5);
  h[0] = code.charCodeAt(0);
  h.writeUInt32BE(p.length + 4, 1);
  return Buffer.concat([h, p]);
}

/** A stand-in for node-postgres' connection: a socket-like stream with its protocol parser as the one data listener. */
function fakeConnection(): { conn: Connection; socket: PassThrough; pgGot: () => Buffer; queries: string[] } {
  const socket = new PassThrough();
  const got: Buffer[] = [];
  socket.on('data', (b: Buffer) => got.push(Buffer.from(b)));
  const queries: string[] = [];
  return { conn: { stream: socket, query: (t: string) => queries.push(t) } as unknown as Connection, socket, pgGot: () => Buffer.concat(got), queries };
}

async function run(wire: Buffer, cuts: number[], opts: { error?: boolean } = {}): Promise<{ text: Buffer; seen: Buffer; pg: Buffer; queries: string[]; err: Error | null }> {
  const { conn, socket, pgGot, queries } = fakeConnection();
  const seen: Buffer[] = [];
  const s = new CopyOutStream('COPY t TO STDOUT', (t) => seen.push(Buffer.from(t)), 64);
  s.submit(conn);
  const out: Buffer[] = [];
  const done = (async () => {
    try {
      for await (const c of s as AsyncIterable<Buffer>) out.push(Buffer.from(c));
      return null;
    } catch (e) {
      return e as Error;
    }
  })();
  for (const p of pieces(wire, cuts)) {
    if (!socket.write(p)) await new Promise((r) => socket.once('drain', r));
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  // What node-postgres does once it has parsed what was handed back to it.
  if (opts.error) s.handleError(new Error('ERROR: canceling statement due to user request'));
  else s.handleCommandComplete({ text: 'COPY 3' });
  const err = await done;
  return { text: Buffer.concat(out), seen: Buffer.concat(seen), pg: pgGot(), queries, err };
}

describe('CopyOutStream: COPY TO STDOUT read from the socket', () => {
  const rows = ['1\tabc\t\\N\n', `2\t${'x'.repeat(300)}\n`, '3\t{"a": "b\\\\n"}\n'];
  const after = Buffer.concat([msg('C', 'COPY 3\0'), msg('Z', 'I')]);
  const wire = Buffer.concat([
    msg('H', Buffer.from([0, 0, 2, 0, 0, 0, 0])), msg('d', rows[0]!), msg('N', 'SNOTICE\0\0'), msg('d', rows[1]!),
    msg('S', 'TimeZone\0UTC\0'), msg('d', rows[2]!), msg('c'), after,
  ]);

  test('strips the message framing, skips interspersed messages, and hands the rest back to node-postgres', async () => {
    const whole = await run(wire, []);
    expect(whole.err).toBeNull();
    expect(whole.queries).toEqual(['COPY t TO STDOUT']);
    expect(whole.text.toString()).toBe(rows.join(''));
    expect(whole.seen.toString()).toBe(rows.join(''));
    expect(whole.pg).toEqual(after);
    // Every cut point (headers and payloads split across socket chunks), and one byte at a time.
    for (let cut = 1; cut < wire.length; cut++) {
      const r = await run(wire, [cut]);
      expect({ cut, text: r.text.toString(), pg: r.pg.toString('hex') }).toEqual({ cut, text: rows.join(''), pg: after.toString('hex') });
    }
    const bytewise = await run(wire, Array.from({ length: wire.length }, (_, i) => i));
    expect(bytewise.text.toString()).toBe(rows.join(''));
    expect(bytewise.pg).toEqual(after);
  });

  test('an ErrorResponse mid-copy goes to node-postgres from its first byte, and fails the stream', async () => {
    const error = Buffer.concat([msg('E', 'SERROR\0C57014\0Mcanceling statement\0\0'), msg('Z', 'I')]);
    const failing = Buffer.concat([msg('H', Buffer.from([0, 0, 0])), msg('d', rows[0]!), error]);
    for (const cuts of [[], [failing.length - error.length], [failing.length - error.length + 1], [3, 17, 30]]) {
      const r = await run(failing, cuts, { error: true });
      expect(r.err?.message).toMatch(/canceling statement/);
      expect(r.pg).toEqual(error);
    }
  });
});

describe('the compressor per stream format', () => {
  test('default zstd: -2 for COPY binary streams, level 1 with long-distance matching for text; an explicit level or another codec applies to all', async () => {
    const { codecFor, streamCodec } = await import('../../src/archive/compress.ts');
    const z = codecFor('zstd');
    expect(streamCodec(z, 'binary').compress!.args).toEqual(['-q', '-c', '-2', '-T1']);
    expect(streamCodec(z, 'text').compress!.args).toEqual(expect.arrayContaining(['-1', '--long=21']));
    expect(streamCodec(z, 'binary').decompress).toBe(z.decompress);
    expect(streamCodec(codecFor('zstd', 5), 'binary').compress!.args).toEqual(expect.arrayContaining(['-5', '-T1']));
    expect(streamCodec(codecFor('zstd', 5), 'binary').compress!.args).not.toContain('-2');
    expect(streamCodec(codecFor('gzip'), 'binary').compress!.args).toEqual(['-c', '-6']);
    expect(streamCodec(codecFor('none'), 'binary').compress).toBeNull();
  });
});

describe('zstd level 1 with long-distance matching', () => {
  test('only the default level adds it, and plain `zstd -d` (what restore and verify run) reads it back', async () => {
    const { codecFor } = await import('../../src/archive/compress.ts');
    const { execa } = await import('execa');
    const l1 = codecFor('zstd');
    expect(l1.compress!.args).toEqual(expect.arrayContaining(['-1', '-T1', '--long=21']));
    expect(codecFor('zstd', 3).compress!.args).not.toContain('--long=21');
    expect(codecFor('zstd', 3).compress!.args).toEqual(expect.arrayContaining(['-3', '-T1']));
    // Rows that repeat a 40-byte key about 1 MB apart: beyond level 1's own 512 KB window, inside the 2 MB one.
    const rand = rng(21);
    const key = () => Array.from({ length: 4 }, () => Math.floor(rand() * 2 ** 32).toString(16).padStart(10, '0')).join('');
    const keys = Array.from({ length: 20000 }, key);
    const text = Buffer.from(Array.from({ length: 60000 }, (_, i) => `${i}\t${keys[i % 20000]}\t${Math.floor(rand() * 1e9)}\n`).join(''));
    const packed = await execa(l1.compress!.bin, l1.compress!.args, { input: text, encoding: 'buffer', stripFinalNewline: false });
    const plain = await execa('zstd', ['-q', '-c', '-1', '-T1'], { input: text, encoding: 'buffer', stripFinalNewline: false });
    expect(text.length).toBeGreaterThan(3_000_000);
    expect(packed.stdout.length).toBeLessThan(plain.stdout.length * 0.95);
    const dec = l1.decompress!('-');
    const back = await execa(dec.bin, dec.args, { input: Buffer.from(packed.stdout), encoding: 'buffer', stripFinalNewline: false });
    expect(Buffer.compare(Buffer.from(back.stdout), text)).toBe(0);
  });
});
