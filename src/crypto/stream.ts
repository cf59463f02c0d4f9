import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ConfigError, IntegrityError } from '../errors.ts';
import { deriveKey, type BackupKey } from './key.ts';

/**
 * Chunked AES-256-GCM, the format of every encrypted backup object:
 *
 *   header (36 bytes): "AXDBENC" 0x01 | chunk size (u32 BE) | key fingerprint (8 bytes) | salt (16 random bytes)
 *   chunks:            ciphertext (chunk size bytes, the last one 0..chunk size) | GCM tag (16 bytes)
 *
 * Each file gets its own key, HKDF-SHA256(master, salt, "axisor-db file v1"), so nonces (the chunk index) never
 * repeat under one key and a chunk moved from another file fails authentication. Each chunk's AAD is the header,
 * its index and a final flag: reordering, dropping, duplicating, truncating at a chunk boundary or appending after
 * the final chunk all fail. Plaintext of a chunk is released only after its tag verified.
 */
export const ENC_MAGIC = Buffer.from('AXDBENC\x01', 'latin1');
export const HEADER_BYTES = 36;
export const TAG_BYTES = 16;
export const DEFAULT_CHUNK = 1 << 20;
const MAX_CHUNK = 64 << 20;
const FILE_INFO = 'axisor-db file v1';

export function isEncrypted(head: Buffer): boolean {
  return head.length >= ENC_MAGIC.length && head.subarray(0, ENC_MAGIC.length).equals(ENC_MAGIC);
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aad(header: Buffer, index: number, final: boolean): Buffer {
  const a = Buffer.alloc(header.length + 9);
  header.copy(a, 0);
  a.writeBigUInt64BE(BigInt(index), header.length);
  a[header.length + 8] = final ? 1 : 0;
  return a;
}

/** Collects incoming buffers and hands out exact-size slices without re-copying every write. */
class Pending {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) (this.parts.push(b), (this.length += b.length));
  }
  take(n: number): Buffer {
    // Copy only the buffers that make up the first n bytes; the rest stay as they are.
    let count = 0;
    let have = 0;
    while (have < n) have += this.parts[count++]!.length;
    const head = count === 1 ? this.parts[0]! : Buffer.concat(this.parts.slice(0, count), have);
    const out = head.subarray(0, n);
    const rest = head.subarray(n);
    this.parts = rest.length ? [rest, ...this.parts.slice(count)] : this.parts.slice(count);
    this.length -= n;
    return out;
  }
}

export interface EncryptOptions {
  chunkSize?: number;
  /** For tests only: a fixed salt. */
  salt?: Buffer;
}

export function createEncryptStream(key: BackupKey, opts: EncryptOptions = {}): Transform {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < 16 || chunkSize > MAX_CHUNK) throw new RangeError(`chunk size ${chunkSize} out of range`);
  const salt = opts.salt ?? randomBytes(16);
  const header = Buffer.alloc(HEADER_BYTES);
  ENC_MAGIC.copy(header, 0);
  header.writeUInt32BE(chunkSize, 8);
  Buffer.from(key.fingerprint, 'hex').copy(header, 12);
  salt.copy(header, 20);
  const fileKey = deriveKey(key.bytes, salt, FILE_INFO);
  const pending = new Pending();
  let index = 0;
  const seal = (stream: Transform, plain: Buffer, final: boolean): void => {
    const c = createCipheriv('aes-256-gcm', fileKey, nonce(index));
    c.setAAD(aad(header, index, final));
    stream.push(c.update(plain));
    c.final();
    stream.push(c.getAuthTag());
    index++;
  };
  return new Transform({
    construct(cb) {
      this.push(header);
      cb();
    },
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      pending.push(chunk);
      // Keep at least one byte back: only the end of the input tells whether a full chunk is the final one.
      while (pending.length > chunkSize) seal(this, pending.take(chunkSize), false);
      cb();
    },
    flush(cb: TransformCallback) {
      seal(this, pending.take(pending.length), true);
      cb();
    },
  });
}

export interface DecryptOptions {
  /** Names the object in errors (a key or file path). */
  name?: string;
}

export function createDecryptStream(key: BackupKey, opts: DecryptOptions = {}): Transform {
  const name = opts.name ?? 'the file';
  const pending = new Pending();
  let header: Buffer | null = null;
  let fileKey: Buffer;
  let chunkSize = 0;
  let index = 0;
  const open = (sealed: Buffer, final: boolean): Buffer => {
    if (sealed.length < TAG_BYTES) throw tampered(name, `chunk ${index} is cut short`);
    const d = createDecipheriv('aes-256-gcm', fileKey, nonce(index));
    d.setAAD(aad(header!, index, final));
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      d.final();
    } catch {
      throw tampered(name, `chunk ${index} failed authentication (modified, reordered, truncated or from another file)`);
    }
    index++;
    return plain;
  };
  const readHeader = (): void => {
    const h = pending.take(HEADER_BYTES);
    if (!isEncrypted(h)) throw new IntegrityError('not_encrypted', `${name} is not an axisor-db encrypted file (bad header)`, { hint: 'the object was replaced or damaged, or it was written without --encryption-key-file' });
    chunkSize = h.readUInt32BE(8);
    if (chunkSize < 16 || chunkSize > MAX_CHUNK) throw tampered(name, `the header names an impossible chunk size ${chunkSize}`);
    const fp = h.subarray(12, 20).toString('hex');
    if (fp !== key.fingerprint) throw keyMismatch(name, fp, key);
    header = Buffer.from(h);
    fileKey = deriveKey(key.bytes, h.subarray(20, 36), FILE_INFO);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        pending.push(chunk);
        if (!header && pending.length >= HEADER_BYTES) readHeader();
        if (header) {
          while (pending.length > chunkSize + TAG_BYTES) this.push(open(pending.take(chunkSize + TAG_BYTES), false));
        }
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        if (!header) throw tampered(name, `it is ${pending.length} bytes, shorter than an encryption header`);
        this.push(open(pending.take(pending.length), true));
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

function tampered(name: string, what: string): IntegrityError {
  return new IntegrityError('decrypt', `${name}: ${what}`, { hint: 'the backup object was modified or damaged; restore from another backup' });
}

export function keyMismatch(name: string, needed: string, key: BackupKey): ConfigError {
  return new ConfigError('encryption_key_mismatch', `${name} was encrypted with the key whose fingerprint is ${needed}; the key in ${key.source} has fingerprint ${key.fingerprint}`, {
    hint: `pass the key with fingerprint ${needed} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE); backups keep the key they were written with`,
  });
}

/** The key fingerprint an encrypted header names (for a message when no key was given). */
export function headerFingerprint(head: Buffer): string | null {
  return isEncrypted(head) && head.length >= 20 ? head.subarray(12, 20).toString('hex') : null;
}
