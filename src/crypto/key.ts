import { createHmac, hkdfSync } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { ConfigError, PathError } from '../errors.ts';

/** A loaded backup key: 32 bytes, never enumerable (JSON.stringify / util.inspect of a holder cannot leak it). */
export interface BackupKey {
  readonly fingerprint: string;
  readonly source: string;
  readonly bytes: Buffer;
}

export const KEY_BYTES = 32;
const KEY_FLAG = '--encryption-key-file (or AXISOR_BACKUP_KEY_FILE)';

/** The key's public name: first 16 hex of HMAC-SHA256(key, "axisor-db key fingerprint"). Safe to print and store. */
export function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('axisor-db key fingerprint').digest('hex').slice(0, 16);
}

/** A sub-key for one purpose (file encryption, manifest MAC), so the master key is never used directly. */
export function deriveKey(key: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, info, KEY_BYTES));
}

/** Parses a key file's text: 32 bytes as 64 hex digits or as base64 (with or without padding). */
export function parseKeyText(text: string, source: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]+$/.test(t)) {
    if (t.length === KEY_BYTES * 2) return Buffer.from(t, 'hex');
    throw badLength(source, `${t.length} hex digits (${t.length / 2} bytes)`);
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(t) || /^[A-Za-z0-9_-]+={0,2}$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === KEY_BYTES) return b;
    throw badLength(source, `base64 of ${b.length} bytes`);
  }
  throw new ConfigError('encryption_key_format', `the key file ${source} holds neither hex nor base64`, {
    hint: `write 32 random bytes as hex: openssl rand -hex 32 > ${source}; chmod 600 ${source}`,
  });
}

function badLength(source: string, what: string): ConfigError {
  return new ConfigError('encryption_key_length', `the key file ${source} holds ${what}; an AES-256 key is exactly 32 bytes`, {
    hint: `write 32 random bytes as hex: openssl rand -hex 32 > ${source}; chmod 600 ${source}`,
  });
}

export function makeKey(bytes: Buffer, source: string): BackupKey {
  if (bytes.length !== KEY_BYTES) throw badLength(source, `${bytes.length} bytes`);
  const key = { fingerprint: keyFingerprint(bytes), source } as BackupKey;
  Object.defineProperty(key, 'bytes', { value: Buffer.from(bytes), enumerable: false });
  return key;
}

/** Which key file applies: --encryption-key-file, then AXISOR_BACKUP_KEY_FILE, then the config file's encryptionKeyFile; none means no encryption. */
export function resolveKeyFile(flag: string | undefined, env: Readonly<Record<string, string | undefined>>, fileValue?: string): string | undefined {
  return flag || env.AXISOR_BACKUP_KEY_FILE || fileValue || undefined;
}

export interface KeyFileDeps {
  stat?: (path: string) => Promise<{ mode: number; isFile(): boolean }>;
  readFile?: (path: string) => Promise<string>;
}

/**
 * Loads a key file. Refuses a file that group or others can read (a backup key readable by every local user
 * defeats the encryption), and any content that is not exactly 32 bytes.
 */
export async function loadKeyFile(path: string, deps: KeyFileDeps = {}): Promise<BackupKey> {
  const doStat = deps.stat ?? stat;
  const doRead = deps.readFile ?? ((p: string) => readFile(p, 'utf8'));
  let st: { mode: number; isFile(): boolean };
  try {
    st = await doStat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PathError(code === 'ENOENT' ? 'not_found' : 'unreadable', `cannot read the key file ${path} (${code ?? String(err)})`, {
      hint: `fix the path given by ${KEY_FLAG}`,
    });
  }
  if (!st.isFile()) throw new PathError('not_a_file', `the key file ${path} is not a regular file`, { hint: `fix ${KEY_FLAG}` });
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError('encryption_key_mode', `the key file ${path} can be read by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`, {
      hint: `chmod 600 ${path}`,
    });
  }
  return makeKey(parseKeyText(await doRead(path), path), path);
}

/** What a manifest records about its backup's encryption (null: not encrypted). */
export interface ManifestEncryption {
  algorithm: 'aes-256-gcm-chunked-v1';
  keyFingerprint: string;
  chunkSize: number;
}

export function manifestEncryption(key: BackupKey | null, chunkSize = 1 << 20): ManifestEncryption | null {
  return key ? { algorithm: 'aes-256-gcm-chunked-v1', keyFingerprint: key.fingerprint, chunkSize } : null;
}

/**
 * Before a restore creates anything: the key given must be the one the backup was written with. `name` is the
 * backup id. Returns nothing; throws CONFIG (78) naming the fingerprint needed.
 */
export function checkRestoreKey(enc: ManifestEncryption | null | undefined, key: BackupKey | null, name: string): void {
  if (!enc) return;
  if (!key) {
    throw new ConfigError('encryption_key_missing', `backup ${name} is encrypted with the key whose fingerprint is ${enc.keyFingerprint}, and no key was given`, {
      hint: `pass the key with fingerprint ${enc.keyFingerprint} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE)`,
    });
  }
  if (key.fingerprint !== enc.keyFingerprint) {
    throw new ConfigError('encryption_key_mismatch', `backup ${name} was written with the key whose fingerprint is ${enc.keyFingerprint}; the key in ${key.source} has fingerprint ${key.fingerprint}`, {
      hint: `pass the key with fingerprint ${enc.keyFingerprint} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE); backups keep the key they were written with`,
    });
  }
}
