import { checksumOf } from '../files.ts';
import { userPreferencesBackfill } from './m001-user-preferences.ts';
import { automationConditionsFormat } from './m002-automation-conditions.ts';
import { notificationTemplatesUpsert } from './m003-notification-templates.ts';
import type { DataMigration } from './types.ts';

/** Add a migration here with the next version number. Never edit one that has shipped: add a new one. */
export const DATA_MIGRATIONS: readonly DataMigration[] = [userPreferencesBackfill, automationConditionsFormat, notificationTemplatesUpsert];

/** Numeric order (10 after 9), unlike the design's string comparison of '001' < '010'. Rejects duplicates. */
export function sortDataMigrations(list: readonly DataMigration[]): DataMigration[] {
  const sorted = [...list].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.version === sorted[i - 1]!.version) throw new Error(`two data migrations share version ${sorted[i]!.version}`);
  }
  for (const m of sorted) if (!Number.isSafeInteger(m.version) || m.version <= 0) throw new Error(`data migration ${m.name}: version must be a positive integer`);
  return sorted;
}

/** Checksum of what the migration runs (its SQL and data), plus its identity. */
export function dataChecksum(m: DataMigration): string {
  return checksumOf(`${m.version}\n${m.name}\n${m.definition}`);
}
