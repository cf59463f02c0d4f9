import type pg from 'pg';
import { findLockHolder, type LockHolder } from '../db/advisory-lock.ts';
import { dataStatus, type DataMigrationStatus } from './data/run.ts';
import type { DataMigration } from './data/types.ts';
import { readSchemaMigrations, type SchemaMigrationFile } from './files.ts';
import { historyTableExists, readHistory } from './prisma-history.ts';
import { classifySchemaMigrations, type SchemaMigrationStatus } from './schema-status.ts';
import { MIGRATION_LOCK_KEY } from './session.ts';

/** `migrate status` exit code: the OR of these bits (0 = everything applied, nothing wrong). */
export const STATUS_BITS = {
  PENDING_SCHEMA: 1,
  PENDING_DATA: 2,
  FAILED: 4,
  MODIFIED: 8,
} as const;

export const STATUS_BITS_HELP = `Exit code of 'migrate status' (bits, added together):
    0  everything applied, nothing modified
    1  schema migrations pending
    2  data migrations pending
    4  a schema migration failed (resolve it: migrate resolve --rolled-back|--applied <name>)
    8  an applied migration (schema or data) was modified since it ran
  64+  the status could not be read (connection, configuration...: see the table below)`;

export interface MigrateStatusResult {
  database: string;
  schema: string;
  migrationsDir: string;
  /** _prisma_migrations exists. */
  historyTable: boolean;
  /** Another session holds the migration lock (a run in progress). */
  lockHolder: LockHolder | null;
  schemaMigrations: SchemaMigrationStatus[];
  dataMigrations: DataMigrationStatus[];
  summary: Record<'applied' | 'pending' | 'failed' | 'running' | 'modified' | 'missing' | 'dataApplied' | 'dataPending' | 'dataModified', number>;
  /** The bitmap, also the exit code. */
  bits: number;
  /** Names of the bits set, e.g. ['PENDING_SCHEMA']. */
  flags: string[];
}

export interface StatusInput {
  database: string;
  schema: string;
  migrationsDir: string;
  dataMigrations: readonly DataMigration[];
  /** When the caller holds the migration lock itself, unfinished rows are failed, not running. */
  holdsLock?: boolean;
  files?: SchemaMigrationFile[];
}

export function statusBits(schemaMigrations: SchemaMigrationStatus[], dataMigrations: DataMigrationStatus[]): number {
  let bits = 0;
  if (schemaMigrations.some((m) => m.state === 'pending' || m.state === 'running')) bits |= STATUS_BITS.PENDING_SCHEMA;
  if (dataMigrations.some((m) => m.state === 'pending')) bits |= STATUS_BITS.PENDING_DATA;
  if (schemaMigrations.some((m) => m.state === 'failed')) bits |= STATUS_BITS.FAILED;
  if (schemaMigrations.some((m) => m.state === 'modified') || dataMigrations.some((m) => m.state === 'modified')) bits |= STATUS_BITS.MODIFIED;
  return bits;
}

/** `migrate status` exits with its bits (STATUS_BITS): 0 when everything is applied and nothing is wrong. */
export function exitCodeFor(status: Pick<MigrateStatusResult, 'bits'>): number {
  return status.bits;
}

export async function readMigrateStatus(client: pg.Client, input: StatusInput): Promise<MigrateStatusResult> {
  const files = input.files ?? (await readSchemaMigrations(input.migrationsDir));
  const historyTable = await historyTableExists(client, input.schema);
  const rows = await readHistory(client, input.schema);
  const lockHolder = input.holdsLock ? null : await findLockHolder(client, MIGRATION_LOCK_KEY);
  const schemaMigrations = classifySchemaMigrations(files, rows, lockHolder !== null);
  const dataMigrations = await dataStatus(client, input.schema, input.dataMigrations);
  const count = (s: string) => schemaMigrations.filter((m) => m.state === s).length;
  const bits = statusBits(schemaMigrations, dataMigrations);
  return {
    database: input.database,
    schema: input.schema,
    migrationsDir: input.migrationsDir,
    historyTable,
    lockHolder,
    schemaMigrations,
    dataMigrations,
    summary: {
      applied: count('applied'),
      pending: count('pending'),
      failed: count('failed'),
      running: count('running'),
      modified: count('modified'),
      missing: count('missing'),
      dataApplied: dataMigrations.filter((m) => m.state === 'applied').length,
      dataPending: dataMigrations.filter((m) => m.state === 'pending').length,
      dataModified: dataMigrations.filter((m) => m.state === 'modified').length,
    },
    bits,
    flags: Object.entries(STATUS_BITS).filter(([, b]) => bits & b).map(([n]) => n),
  };
}
