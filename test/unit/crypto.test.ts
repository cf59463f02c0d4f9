import { describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkRestoreKey, keyFingerprint, loadKeyFile, makeKey, manifestEncryption, parseKeyText, resolveKeyFile } from '../../src/crypto/key.ts';
import { manifestMac, verifyManifestMac } from '../../src/crypto/manifest-mac.ts';
import { createDecryptStream, createEncryptStream, HEADER_BYTES, headerFingerprint, TAG_BYTES } from '../../src/crypto/stream.ts';
import type { AxisorError } from '../../src/errors.ts';

const KEY = makeKey(Buffer.alloc(32, 7), 'test-key');
const OTHER = makeKey(Buffer.alloc(32, 9), 'other-key');
const CHUNK = 64;

async function collect(src: Readable, ...mid: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  await (pipeline as any)(src, ...mid, new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
  return Buffer.concat(parts);
}
const encrypt = (plain: Buffer, chunkSize = CHUNK) => collect(Readable.from([plain]), createEncryptStream(KEY, { chunkSize }));
const decrypt = (sealed: Buffer, key = KEY) => collect(Readable.from(sealed.length ? [sealed] : []), createDecryptStream(key, { name: 'obj' }));
async function decryptError(sealed: Buffer, key = KEY): Promise<AxisorError> {
  try {
    await decrypt(sealed, key);
  } catch (err) {
    return err as AxisorError;
  }
  throw new Error('decryption of tampered data succeeded');
}
const sealedChunk = CHUNK + TAG_BYTES;

describe('chunked AES-256-GCM streams', () => {
  test('round trip at every size around chunk boundaries, fed in odd pieces', async () => {
    for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5]) {
      const plain = randomBytes(n);
      const sealed = await encrypt(plain);
      expect(sealed.length).toBe(HEADER_BYTES + n + TAG_BYTES * Math.max(1, Math.ceil(n / CHUNK)));
      const pieces: Buffer[] = [];
      for (let i = 0; i < sealed.length; i += 7) pieces.push(sealed.subarray(i, i + 7));
      const back = await collect(Readable.from(pieces), createDecryptStream(KEY));
      expect(back.equals(plain)).toBe(true);
    }
  });

  test('no plaintext appears in the output, and two encryptions of the same data differ', async () => {
    const plain = Buffer.from('alice@example.com '.repeat(100));
    const a = await encrypt(plain);
    const b = await encrypt(plain);
    expect(a.includes(Buffer.from('alice@example.com'))).toBe(false);
    expect(a.equals(b)).toBe(false);
    expect(headerFingerprint(a)).toBe(KEY.fingerprint);
  });

  test('every tamper class is detected as an integrity error (65)', async () => {
    const plain = randomBytes(4 * CHUNK + 10);
    const sealed = await encrypt(plain);
    const body = sealed.subarray(HEADER_BYTES);
    const chunk = (i: number) => body.subarray(i * sealedChunk, (i + 1) * sealedChunk);
    const header = sealed.subarray(0, HEADER_BYTES);
    const flip = (at: number) => {
      const b = Buffer.from(sealed);
      b[at]! ^= 1;
      return b;
    };
    const other = await encrypt(randomBytes(4 * CHUNK + 10));
    const cases: Record<string, Buffer> = {
      'bit flip in ciphertext': flip(HEADER_BYTES + 3),
      'bit flip in a tag': flip(HEADER_BYTES + CHUNK + 2),
      'bit flip in the salt': flip(25),
      'chunk size changed in the header': (() => { const b = Buffer.from(sealed); b.writeUInt32BE(CHUNK * 2, 8); return b; })(),
      'truncated at a chunk boundary': sealed.subarray(0, HEADER_BYTES + 2 * sealedChunk),
      'truncated mid chunk': sealed.subarray(0, sealed.length - 5),
      'final chunk dropped': Buffer.concat([header, chunk(0), chunk(1), chunk(2), chunk(3)]),
      'chunks swapped': Buffer.concat([header, chunk(1), chunk(0), body.subarray(2 * sealedChunk)]),
      'chunk duplicated': Buffer.concat([header, chunk(0), chunk(0), body.subarray(2 * sealedChunk)]),
      'data appended after the final chunk': Buffer.concat([sealed, chunk(0)]),
      'chunk taken from another file': Buffer.concat([header, other.subarray(HEADER_BYTES, HEADER_BYTES + sealedChunk), body.subarray(sealedChunk)]),
      'header of another file': Buffer.concat([other.subarray(0, HEADER_BYTES), body]),
      'shorter than a header': sealed.subarray(0, 10),
      'not an encrypted file': Buffer.from('COPY "public"."User" FROM stdin;\n'.repeat(10)),
    };
    for (const [what, data] of Object.entries(cases)) {
      const err = await decryptError(data);
      expect([what, err.exitCode]).toEqual([what, 65]);
    }
    // The untouched file still decrypts: the cases above fail because of the change, not the harness.
    expect((await decrypt(sealed)).equals(plain)).toBe(true);
  });

  test('a wrong key is refused before decrypting, naming the fingerprint needed', async () => {
    const sealed = await encrypt(Buffer.from('secret'));
    const err = await decryptError(sealed, OTHER);
    expect(err.code).toBe('config.encryption_key_mismatch');
    expect(err.exitCode).toBe(78);
    expect(err.message).toContain(KEY.fingerprint);
    expect(err.hint).toContain(KEY.fingerprint);
  });

  test('throughput of encrypt + decrypt with 1 MiB chunks', async () => {
    const block = randomBytes(1 << 20);
    const total = 128;
    const src = () => Readable.from((function* () { for (let i = 0; i < total; i++) yield block; })());
    const h = createHash('sha256');
    const t0 = process.hrtime.bigint();
    let sealedBytes = 0;
    await pipeline(src(), createEncryptStream(KEY), new Writable({ write(c, _e, cb) { sealedBytes += c.length; cb(); } }));
    const t1 = process.hrtime.bigint();
    await pipeline(src(), createEncryptStream(KEY), createDecryptStream(KEY), new Writable({ write(c, _e, cb) { h.update(c); cb(); } }));
    const t2 = process.hrtime.bigint();
    const want = createHash('sha256');
    for (let i = 0; i < total; i++) want.update(block);
    expect(h.digest('hex')).toBe(want.digest('hex'));
    expect(sealedBytes).toBe(HEADER_BYTES + total * (1 << 20) + total * TAG_BYTES);
    const enc = total / (Number(t1 - t0) / 1e9);
    const both = total / (Number(t2 - t1) / 1e9);
    // Printed for the report; no test asserts a time.
    console.log(`crypto throughput: encrypt ${enc.toFixed(0)} MiB/s, encrypt+decrypt pipeline ${both.toFixed(0)} MiB/s`);
  });
});

describe('key files', () => {
  test('hex and base64 of 32 bytes are accepted; other lengths and formats are refused', () => {
    const raw = randomBytes(32);
    expect(parseKeyText(raw.toString('hex') + '\n', 'k').equals(raw)).toBe(true);
    expect(parseKeyText(raw.toString('base64'), 'k').equals(raw)).toBe(true);
    expect(parseKeyText(raw.toString('base64url'), 'k').equals(raw)).toBe(true);
    expect(() => parseKeyText(randomBytes(16).toString('hex'), 'k')).toThrow(/32 bytes/);
    expect(() => parseKeyText(randomBytes(31).toString('base64'), 'k')).toThrow(/32 bytes/);
    expect(() => parseKeyText('not a key!', 'k')).toThrow(/neither hex nor base64/);
  });

  test('the fingerprint is stable, 16 hex, and differs between keys', () => {
    expect(keyFingerprint(Buffer.alloc(32, 7))).toMatch(/^[0-9a-f]{16}$/);
    expect(KEY.fingerprint).toBe(keyFingerprint(Buffer.alloc(32, 7)));
    expect(KEY.fingerprint).not.toBe(OTHER.fingerprint);
    expect(JSON.stringify(KEY)).not.toContain('0707');
  });

  test('loads a 0600 key file; refuses a group/world-readable one and a missing one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'axisor-key-'));
    try {
      const path = join(dir, 'backup.key');
      await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
      await chmod(path, 0o600);
      expect((await loadKeyFile(path)).fingerprint).toMatch(/^[0-9a-f]{16}$/);
      await chmod(path, 0o640);
      await expect(loadKeyFile(path)).rejects.toMatchObject({ code: 'config.encryption_key_mode', exitCode: 78, hint: `chmod 600 ${path}` });
      await expect(loadKeyFile(join(dir, 'missing'))).rejects.toMatchObject({ exitCode: 73 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the flag wins over AXISOR_BACKUP_KEY_FILE, which wins over the config file', () => {
    expect(resolveKeyFile('/a', { AXISOR_BACKUP_KEY_FILE: '/b' })).toBe('/a');
    expect(resolveKeyFile(undefined, { AXISOR_BACKUP_KEY_FILE: '/b' })).toBe('/b');
    expect(resolveKeyFile(undefined, {})).toBeUndefined();
    expect(resolveKeyFile(undefined, {}, '/c')).toBe('/c');
    expect(resolveKeyFile(undefined, { AXISOR_BACKUP_KEY_FILE: '/b' }, '/c')).toBe('/b');
  });
});

describe('manifest authentication', () => {
  const text = JSON.stringify({ id: '20261130T000000Z-full-abcd', tables: [{ name: 'User', rows: 3 }] }, null, 2);
  test('a MAC verifies; any byte change or a wrong key is caught', () => {
    const mac = manifestMac(text, KEY);
    expect(mac).toMatch(/^hmac-sha256 [0-9a-f]{16} [0-9a-f]{64}\n$/);
    expect(() => verifyManifestMac(text, mac, KEY, 'b1')).not.toThrow();
    expect(() => verifyManifestMac(text.replace('"rows": 3', '"rows": 4'), mac, KEY, 'b1')).toThrow(expect.objectContaining({ code: 'integrity.manifest_mac', exitCode: 65 }));
    expect(() => verifyManifestMac(text, mac, OTHER, 'b1')).toThrow(expect.objectContaining({ code: 'config.encryption_key_mismatch', message: expect.stringContaining(KEY.fingerprint) }));
    // A MAC recomputed with another key but relabelled with the right fingerprint is still refused.
    const forged = manifestMac(text, OTHER).replace(OTHER.fingerprint, KEY.fingerprint);
    expect(() => verifyManifestMac(text, forged, KEY, 'b1')).toThrow(expect.objectContaining({ code: 'integrity.manifest_mac' }));
    expect(() => verifyManifestMac(text, 'garbage', KEY, 'b1')).toThrow(expect.objectContaining({ code: 'integrity.manifest_mac_format' }));
  });
});

describe('restore key check (before anything is created)', () => {
  const enc = manifestEncryption(KEY)!;
  test('the manifest records algorithm, fingerprint and chunk size; none without a key', () => {
    expect(enc).toEqual({ algorithm: 'aes-256-gcm-chunked-v1', keyFingerprint: KEY.fingerprint, chunkSize: 1 << 20 });
    expect(manifestEncryption(null)).toBeNull();
  });
  test('right key passes; no key and a wrong key are refused naming the fingerprint; plaintext backups need none', () => {
    expect(() => checkRestoreKey(enc, KEY, 'b1')).not.toThrow();
    expect(() => checkRestoreKey(null, null, 'b1')).not.toThrow();
    expect(() => checkRestoreKey(enc, null, 'b1')).toThrow(expect.objectContaining({ code: 'config.encryption_key_missing', hint: expect.stringContaining(KEY.fingerprint) }));
    expect(() => checkRestoreKey(enc, OTHER, 'b1')).toThrow(expect.objectContaining({ code: 'config.encryption_key_mismatch', message: expect.stringContaining(OTHER.fingerprint) }));
  });
});
