import { randomBytes } from 'node:crypto';

export type BackupType = 'full' | 'schema-only' | 'incremental';
export const BACKUP_TYPES: readonly BackupType[] = ['full', 'schema-only', 'incremental'];

const ID_RE = /^(\d{8}T\d{6}Z)-(full|schema|incr)-([0-9a-f]{4})$/;

/** Ids sort by time as plain strings: 20250126T020000Z-full-1a2b. */
export function newBackupId(type: BackupType, now: Date): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const short = type === 'schema-only' ? 'schema' : type === 'incremental' ? 'incr' : 'full';
  return `${ts}-${short}-${randomBytes(2).toString('hex')}`;
}

export function isBackupId(name: string): boolean {
  return ID_RE.test(name);
}
