import type pg from 'pg';
import type { ProgressFn } from '../../progress.ts';

export type Queryable = pg.Client | pg.PoolClient;

export interface DataMigrationContext {
  /** Schema of the Axisor tables (already quoted helpers take it raw). */
  schema: string;
  /** Rows per keyset batch. */
  batchSize: number;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface DataMigrationOutcome {
  /** Rows inserted or changed. */
  rowsChanged: number;
  /** Rows visited by the keyset scan (0 for single-statement migrations). */
  rowsScanned: number;
  batches: number;
}

/**
 * A versioned data migration. `definition` is the SQL (and data) it runs: its sha256 is the checksum stored in
 * the history, so an edited migration is reported as modified, like a schema migration.
 */
export interface DataMigration {
  version: number;
  name: string;
  description: string;
  /** Tables that must exist (created by the schema migrations) before it can run. */
  requiresTables: string[];
  definition: string;
  /** How many rows it would change now (for --dry-run and status). Cheap, read-only. */
  countPending(client: Queryable, ctx: DataMigrationContext): Promise<number>;
  /** Runs inside the caller's transaction; must not COMMIT. */
  up(client: Queryable, ctx: DataMigrationContext): Promise<DataMigrationOutcome>;
}
