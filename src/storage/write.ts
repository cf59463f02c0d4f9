import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { BackupKey } from '../crypto/key.ts';
import { createEncryptStream } from '../crypto/stream.ts';
import type { PutOptions, Repository } from './types.ts';

export interface StoredObject {
  key: string;
  /** Stored bytes (after encryption) and their sha256: what `backup verify` checks without the key. */
  bytes: number;
  sha256: string;
  encrypted: boolean;
}

/**
 * Streams `src` (already compressed) through encryption when a key is given, hashing the stored bytes on the
 * way, into `key`. Nothing is staged on local disk; memory is bounded by the repository's part buffers.
 */
export async function putStream(repo: Repository, key: string, src: Readable, encryptionKey: BackupKey | null, opts: PutOptions = {}): Promise<StoredObject> {
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  // pipeline forwards a source error to the last stage, so the repository sees the put fail and publishes nothing.
  const body: Readable = encryptionKey ? pipeline(src, createEncryptStream(encryptionKey), hasher, () => {}) : pipeline(src, hasher, () => {});
  const r = await repo.put(key, body, opts);
  return { key, bytes: r.bytes, sha256: hash.digest('hex'), encrypted: encryptionKey !== null };
}
