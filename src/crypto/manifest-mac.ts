import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, IntegrityError } from '../errors.ts';
import { deriveKey, type BackupKey } from './key.ts';

/**
 * A manifest's authentication: HMAC-SHA256 over its exact bytes under a key derived from the backup key.
 * The manifest stays readable without the key (list/show work, and show the fingerprint a restore needs),
 * but any change to it, or a MAC made with another key, is caught. Stored as one line:
 *   hmac-sha256 <key fingerprint> <hex mac>
 */
const MAC_INFO = 'axisor-db manifest mac v1';
const MAC_SALT = Buffer.from('axisor-db manifest');

export function manifestMac(text: string | Buffer, key: BackupKey): string {
  const mac = createHmac('sha256', deriveKey(key.bytes, MAC_SALT, MAC_INFO)).update(text).digest('hex');
  return `hmac-sha256 ${key.fingerprint} ${mac}\n`;
}

export interface ParsedMac {
  fingerprint: string;
  mac: string;
}

export function parseManifestMac(line: string, name: string): ParsedMac {
  const m = /^hmac-sha256 ([0-9a-f]{16}) ([0-9a-f]{64})\s*$/.exec(line);
  if (!m) throw new IntegrityError('manifest_mac_format', `the manifest MAC of ${name} is malformed`, { hint: 'the backup was modified or damaged; restore from another backup' });
  return { fingerprint: m[1]!, mac: m[2]! };
}

/** Throws unless `line` authenticates `text` under `key`: a wrong key is named by fingerprint, a change is an integrity error. */
export function verifyManifestMac(text: string | Buffer, line: string, key: BackupKey, name: string): void {
  const p = parseManifestMac(line, name);
  if (p.fingerprint !== key.fingerprint) {
    throw new ConfigError('encryption_key_mismatch', `backup ${name} was written with the key whose fingerprint is ${p.fingerprint}; the key in ${key.source} has fingerprint ${key.fingerprint}`, {
      hint: `pass the key with fingerprint ${p.fingerprint} via --encryption-key-file (or AXISOR_BACKUP_KEY_FILE); backups keep the key they were written with`,
    });
  }
  const want = Buffer.from(parseManifestMac(manifestMac(text, key), name).mac, 'hex');
  if (!timingSafeEqual(want, Buffer.from(p.mac, 'hex'))) {
    throw new IntegrityError('manifest_mac', `the manifest of backup ${name} does not match its MAC: it was modified`, { hint: 'restore from another backup' });
  }
}
