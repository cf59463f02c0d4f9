import { pipeline, Readable } from 'node:stream';
import { ConfigError } from '../errors.ts';
import type { BackupKey } from '../crypto/key.ts';
import { createDecryptStream, headerFingerprint, HEADER_BYTES, isEncrypted } from '../crypto/stream.ts';
import type { Repository } from './types.ts';

export interface RangedReadOptions {
  /** Bytes per ranged GET. */
  partSize?: number;
  /** Ranged GETs in flight; memory is bounded by concurrency x partSize. */
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * Reads an object with several ranged GETs in flight and emits the bytes in order: on S3 one GET stream is
 * bound by one connection's throughput, so a large object restores faster read in parallel parts. Objects
 * smaller than two parts are read with one GET.
 */
export function readParallel(repo: Repository, key: string, size: number, opts: RangedReadOptions = {}): Readable {
  const partSize = opts.partSize ?? 8 << 20;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const parts = Math.ceil(size / partSize);
  const fetchPart = async (i: number): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    const start = i * partSize;
    const end = Math.min(size, start + partSize) - 1;
    for await (const c of await repo.get(key, { start, end })) chunks.push(c as Buffer);
    const b = Buffer.concat(chunks);
    if (b.length !== end - start + 1) throw new Error(`ranged read of ${key} bytes ${start}-${end} returned ${b.length} bytes`);
    return b;
  };
  async function* generate(): AsyncGenerator<Buffer> {
    if (parts <= 1) {
      if (size > 0) yield* (await repo.get(key)) as AsyncIterable<Buffer>;
      return;
    }
    const inFlight: Array<Promise<Buffer>> = [];
    let next = 0;
    const launch = () => {
      const p = fetchPart(next++);
      p.catch(() => {}); // awaited in order below; avoid an unhandled rejection while earlier parts are pending
      inFlight.push(p);
    };
    while (next < parts && inFlight.length < concurrency) launch();
    while (inFlight.length > 0) {
      opts.signal?.throwIfAborted();
      const b = await inFlight.shift()!;
      if (next < parts) launch();
      yield b;
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

/**
 * The plaintext of a stored object. An encrypted object needs the key it was written with (refused up front,
 * naming the fingerprint, when no key or another key is given); a plaintext object is passed through.
 */
export async function openObject(repo: Repository, key: string, encryptionKey: BackupKey | null, opts: RangedReadOptions & { size?: number } = {}): Promise<Readable> {
  const size = opts.size ?? (await repo.stat(key))?.bytes;
  if (size === undefined) await repo.get(key); // throws the NotFoundError
  // An encrypted object is at least a header and a tag long; a shorter one (even empty: S3 refuses ranges of
  // empty objects) is plaintext.
  const head = size! >= HEADER_BYTES ? await readHead(repo, key) : Buffer.alloc(0);
  if (isEncrypted(head)) {
    const needed = headerFingerprint(head)!;
    if (!encryptionKey) {
      throw new ConfigError('encryption_key_missing', `${key} in ${repo.location} is encrypted (key fingerprint ${needed}) and no key was given`, {
        hint: `pass the key with fingerprint ${needed} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE)`,
      });
    }
    // pipeline destroys both ends on an error either side (a failed tag stops the reads; a failed read fails the stream).
    return pipeline(readParallel(repo, key, size!, opts), createDecryptStream(encryptionKey, { name: key }), () => {});
  }
  return readParallel(repo, key, size!, opts);
}

async function readHead(repo: Repository, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await repo.get(key, { start: 0, end: HEADER_BYTES - 1 })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
