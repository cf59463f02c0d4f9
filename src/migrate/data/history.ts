import { qualifiedName } from '../../db/ident.ts';
import type { Queryable } from './types.ts';

export const DATA_TABLE = 'axisor_data_migrations';

export interface DataMigrationRow {
  version: number;
  name: string;
  checksum: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  rows_changed: number;
}

/**
 * History of data migrations. A row exists only for a migration that committed: the row is written in the
 * same transaction as the migration's changes, so "half applied" cannot be recorded (nor happen).
 */
export function createDataTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(schema, DATA_TABLE)} (
    version      integer PRIMARY KEY,
    name         text NOT NULL,
    checksum     varchar(64) NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    duration_ms  integer NOT NULL,
    rows_changed bigint NOT NULL DEFAULT 0
)`;
}

export async function readDataHistory(client: Queryable, schema: string): Promise<DataMigrationRow[]> {
  const { rows: exists } = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [qualifiedName(schema, DATA_TABLE)]);
  if (!exists[0]?.t) return [];
  const { rows } = await client.query<DataMigrationRow>(
    `SELECT version, name, checksum, to_json(started_at) #>> '{}' AS started_at, to_json(finished_at) #>> '{}' AS finished_at,
            duration_ms, rows_changed
       FROM ${qualifiedName(schema, DATA_TABLE)} ORDER BY version`,
  );
  return rows;
}

/** Written inside the migration's transaction; started_at is the transaction's start (now()). */
export async function recordDataMigration(client: Queryable, schema: string, m: { version: number; name: string; checksum: string; rowsChanged: number }): Promise<{ durationMs: number }> {
  const { rows } = await client.query<{ duration_ms: number }>(
    `INSERT INTO ${qualifiedName(schema, DATA_TABLE)} (version, name, checksum, started_at, finished_at, duration_ms, rows_changed)
     VALUES ($1, $2, $3, now(), clock_timestamp(), round(extract(epoch FROM clock_timestamp() - now()) * 1000)::int, $4)
     RETURNING duration_ms`,
    [m.version, m.name, m.checksum, m.rowsChanged],
  );
  return { durationMs: rows[0]?.duration_ms ?? 0 };
}
