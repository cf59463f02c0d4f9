import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline as pipelineCb, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkRestoreKey, loadKeyFile, type BackupKey, type ManifestEncryption } from '../crypto/key.ts';
import { verifyManifestMac } from '../crypto/manifest-mac.ts';
import { createDecryptStream, createEncryptStream, headerFingerprint, HEADER_BYTES, isEncrypted } from '../crypto/stream.ts';
import type { AxisorConfig } from '../config/types.ts';
import { ConfigError, IntegrityError } from '../errors.ts';
import { FILE_MODE, fsyncPath } from './fsx.ts';
import { MANIFEST_FILE, type Manifest } from './manifest.ts';
import { isRemoteDir, readStoredBuffer, resolveRemote } from './repo.ts';

/** manifest.json's MAC under the backup key (written only for encrypted backups). */
export const MANIFEST_MAC_FILE = 'manifest.hmac';

/** The key named by --encryption-key-file / AXISOR_BACKUP_KEY_FILE / encryptionKeyFile, or null (no encryption). */
export async function loadBackupKey(config: Pick<AxisorConfig, 'encryptionKeyFile'>): Promise<BackupKey | null> {
  return config.encryptionKeyFile ? loadKeyFile(config.encryptionKeyFile) : null;
}

/** The manifest's `encryption` field (absent in plaintext backups and in manifests written before encryption). */
export function manifestEncryptionOf(m: Manifest): ManifestEncryption | null {
  return (m as Manifest & { encryption?: ManifestEncryption | null }).encryption ?? null;
}

/**
 * Before a restore or verify creates anything: every link of the chain must be readable with the key given
 * (refused naming the fingerprint it needs), and an encrypted backup's manifest must carry a MAC that
 * authenticates it under that key (a stripped or changed MAC is tampering: 65).
 */
export async function authenticateChain(chain: Array<{ dir: string; manifest: Manifest }>, key: BackupKey | null): Promise<void> {
  for (const link of chain) {
    const id = link.manifest.id;
    checkRestoreKey(manifestEncryptionOf(link.manifest), key, id);
    if (!manifestEncryptionOf(link.manifest) || !key) continue;
    let line: string;
    try {
      line = (await readStoredBuffer(link.dir, MANIFEST_MAC_FILE)).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new IntegrityError('manifest_mac_missing', `backup ${id} is encrypted but its manifest has no MAC (${MANIFEST_MAC_FILE}): it was modified`, { hint: 'restore from another backup' });
    }
    verifyManifestMac(await readStoredBuffer(link.dir, MANIFEST_FILE), line, key, id);
  }
}

/**
 * The stored bytes of a backup file as plaintext (still compressed): decrypted when the file is encrypted. An
 * encrypted file without a key, or with another key, is refused before any byte is returned. In an S3 location
 * the object is read with parallel ranged GETs (openObject).
 */
export async function openBackupFile(dir: string, rel: string, key: BackupKey | null, opts: { size?: number } = {}): Promise<Readable> {
  if (isRemoteDir(dir)) {
    const { repo, key: objectKey } = resolveRemote(dir, rel);
    const { openObject } = await import('../storage/read.ts');
    return openObject(repo, objectKey, key, { size: opts.size });
  }
  const path = join(dir, rel);
  const head = await readHead(path);
  if (!isEncrypted(head)) return createReadStream(path, { highWaterMark: 1 << 20 });
  const needed = headerFingerprint(head)!;
  if (!key) {
    throw new ConfigError('encryption_key_missing', `${path} is encrypted (key fingerprint ${needed}) and no key was given`, {
      hint: `pass the key with fingerprint ${needed} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE)`,
    });
  }
  return pipelineCb(createReadStream(path, { highWaterMark: 1 << 20 }), createDecryptStream(key, { name: path }), () => {});
}

async function readHead(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of createReadStream(path, { start: 0, end: HEADER_BYTES - 1 })) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
  }
  return Buffer.concat(chunks, n);
}

/**
 * Encrypts a file written by another program (pg_dump's schema archive) in place: the ciphertext is written
 * beside it (0600, exclusive), fsynced, and renamed over the plaintext, so the name never holds a partial file.
 */
export async function encryptFileInPlace(path: string, key: BackupKey): Promise<void> {
  const tmp = `${path}.encrypting`;
  try {
    await pipeline(createReadStream(path), createEncryptStream(key), createWriteStream(tmp, { mode: FILE_MODE, flags: 'wx' }));
    await fsyncPath(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Decrypts a backup file into `dest` (a private temporary directory): for pg_restore, which needs a seekable file. */
export async function decryptFileTo(dir: string, rel: string, key: BackupKey | null, dest: string): Promise<void> {
  await pipeline(await openBackupFile(dir, rel, key), createWriteStream(dest, { mode: FILE_MODE, flags: 'wx' }));
}

/** An encrypting stage for a writer (null: none). */
export function encryptStage(key: BackupKey | null | undefined): import('node:stream').Transform | null {
  return key ? createEncryptStream(key) : null;
}
