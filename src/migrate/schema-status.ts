import { checksumMatches, type SchemaMigrationFile } from './files.ts';
import { isApplied, isFailed, type PrismaMigrationRow } from './prisma-history.ts';

/**
 * applied  - finished, file unchanged
 * modified - finished, but the file's checksum changed since (drift)
 * pending  - no row, or only rolled-back rows (Prisma re-applies those)
 * failed   - started and never finished, not rolled back: blocks further runs until `migrate resolve`
 * running  - looks failed, but a migrator holds the migration lock right now
 * missing  - recorded in the database, no such folder locally (informational, as in Prisma)
 */
export type SchemaState = 'applied' | 'modified' | 'pending' | 'failed' | 'running' | 'missing';

export interface SchemaMigrationStatus {
  name: string;
  state: SchemaState;
  /** Checksum of the local file (null for 'missing'). */
  checksum: string | null;
  /** Checksum recorded in the database, when it differs from the file's. */
  recordedChecksum?: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** For failed migrations: the error recorded in `logs`. */
  logs?: string | null;
}

/** Pure: local files + history rows -> one state per migration, in file order then missing ones. */
export function classifySchemaMigrations(files: SchemaMigrationFile[], rows: PrismaMigrationRow[], lockHeld: boolean): SchemaMigrationStatus[] {
  const byName = new Map<string, PrismaMigrationRow[]>();
  for (const r of rows) byName.set(r.migration_name, [...(byName.get(r.migration_name) ?? []), r]);
  const out: SchemaMigrationStatus[] = files.map((f) => {
    const mine = byName.get(f.name) ?? [];
    const applied = mine.filter(isApplied).at(-1);
    if (applied) {
      const same = checksumMatches(applied.checksum, f);
      return {
        name: f.name,
        state: same ? 'applied' : 'modified',
        checksum: f.checksum,
        ...(same ? {} : { recordedChecksum: applied.checksum }),
        startedAt: applied.started_at,
        finishedAt: applied.finished_at,
      };
    }
    const failed = mine.filter(isFailed).at(-1);
    if (failed) {
      return { name: f.name, state: lockHeld ? 'running' : 'failed', checksum: f.checksum, startedAt: failed.started_at, finishedAt: null, logs: failed.logs };
    }
    return { name: f.name, state: 'pending', checksum: f.checksum, startedAt: null, finishedAt: null };
  });
  const local = new Set(files.map((f) => f.name));
  for (const [name, mine] of byName) {
    if (local.has(name)) continue;
    const last = mine.filter((r) => r.rolled_back_at === null).at(-1);
    if (!last) continue;
    // A failed row without a local file still blocks Prisma's deploy: report it as failed.
    out.push({
      name,
      state: isFailed(last) ? (lockHeld ? 'running' : 'failed') : 'missing',
      checksum: null,
      recordedChecksum: last.checksum,
      startedAt: last.started_at,
      finishedAt: last.finished_at,
      ...(isFailed(last) ? { logs: last.logs } : {}),
    });
  }
  return out;
}
