import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';

export interface S3Location {
  kind: 's3';
  bucket: string;
  /** '' or a prefix ending in '/'. */
  prefix: string;
  /** s3://bucket/prefix as given, normalised. */
  url: string;
}

export interface LocalLocation {
  kind: 'local';
  dir: string;
}

export type BackupLocation = S3Location | LocalLocation;

const FLAG = '--backup-dir (or AXISOR_BACKUP_DIR, or backupDir in the config file)';

/** True for a value that names object storage rather than a local path. */
export function isS3Url(value: string): boolean {
  return /^s3:\/\//i.test(value);
}

/**
 * `s3://bucket/some/prefix` -> bucket + 'some/prefix/'. Bucket names follow S3's rules (3-63 chars, lowercase,
 * digits, dots, hyphens) so a typo fails here rather than as a confusing signature error.
 */
export function parseS3Url(value: string): S3Location {
  const m = /^s3:\/\/([^/?#]*)(?:\/([^?#]*))?$/i.exec(value.trim());
  if (!m) throw new ConfigError('s3_url', `'${value}' is not an s3://bucket/prefix URL`, { hint: `give ${FLAG} as s3://bucket/prefix` });
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
    throw new ConfigError('s3_bucket', `'${bucket}' in ${value} is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)`, { hint: `fix the bucket in ${FLAG}` });
  }
  const segments = (m[2] ?? '').split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s === '.' || s === '..') throw new ConfigError('s3_prefix', `the prefix of ${value} contains '${s}'`, { hint: `fix the prefix in ${FLAG}` });
  }
  const prefix = segments.length ? `${segments.join('/')}/` : '';
  return { kind: 's3', bucket, prefix, url: `s3://${bucket}/${prefix}` };
}

/** A local directory (made absolute against `cwd`) or an S3 location. */
export function parseBackupLocation(value: string, cwd: string): BackupLocation {
  if (isS3Url(value)) return parseS3Url(value);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ConfigError('backup_dir_scheme', `'${value}' uses a scheme axisor-db does not support`, { hint: `give ${FLAG} as a local directory or s3://bucket/prefix` });
  }
  return { kind: 'local', dir: isAbsolute(value) ? value : resolve(cwd, value) };
}

export function describeLocation(loc: BackupLocation): string {
  return loc.kind === 's3' ? loc.url : loc.dir;
}
