import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';

type Queryable = pg.Client | pg.PoolClient;

export const PRISMA_TABLE = '_prisma_migrations';

/**
 * One row of `_prisma_migrations`, exactly the columns Prisma's schema engine writes (sql_migration_persistence.rs).
 * Timestamps are ISO strings so the JSON view never depends on the client's time zone.
 */
export interface PrismaMigrationRow {
  id: string;
  checksum: string;
  finished_at: string | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: string | null;
  started_at: string;
  applied_steps_count: number;
}

/** Prisma's own DDL for PostgreSQL (postgres flavour's create_migrations_table), byte for byte in meaning. */
export function createTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(schema, PRISMA_TABLE)} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;
}

export async function historyTableExists(client: Queryable, schema: string): Promise<boolean> {
  const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [qualifiedName(schema, PRISMA_TABLE)]);
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

export async function ensureHistoryTable(client: Queryable, schema: string): Promise<void> {
  // CREATE TABLE IF NOT EXISTS checks CREATE on the schema even when the table is there.
  if (await historyTableExists(client, schema)) return;
  await client.query(createTableSql(schema));
}

/** All rows in Prisma's order (started_at). Empty when the table does not exist yet. */
export async function readHistory(client: Queryable, schema: string): Promise<PrismaMigrationRow[]> {
  if (!(await historyTableExists(client, schema))) return [];
  const { rows } = await client.query<PrismaMigrationRow>(
    `SELECT id, checksum, migration_name, logs, applied_steps_count,
            to_json(started_at) #>> '{}' AS started_at, to_json(finished_at) #>> '{}' AS finished_at,
            to_json(rolled_back_at) #>> '{}' AS rolled_back_at
       FROM ${qualifiedName(schema, PRISMA_TABLE)} ORDER BY started_at, migration_name`,
  );
  return rows;
}

/** Step 1 of Prisma's apply sequence: a row with logs NULL and applied_steps_count 0, committed before the script runs. */
export async function recordStarted(client: Queryable, schema: string, name: string, checksum: string): Promise<string> {
  const id = randomUUID();
  await client.query(
    `INSERT INTO ${qualifiedName(schema, PRISMA_TABLE)} (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, clock_timestamp())`,
    [id, checksum, name],
  );
  return id;
}

/** Prisma's record_successful_step + record_migration_finished, in one statement. */
export async function recordFinished(client: Queryable, schema: string, id: string): Promise<void> {
  await client.query(
    `UPDATE ${qualifiedName(schema, PRISMA_TABLE)} SET applied_steps_count = applied_steps_count + 1, finished_at = clock_timestamp() WHERE id = $1`,
    [id],
  );
}

/** Prisma's record_failed_step: logs = the error, finished_at stays NULL, so the next deploy refuses (P3009). */
export async function recordFailed(client: Queryable, schema: string, id: string, logs: string): Promise<void> {
  await client.query(`UPDATE ${qualifiedName(schema, PRISMA_TABLE)} SET logs = $2 WHERE id = $1`, [id, logs]);
}

/** `migrate resolve --applied`: Prisma inserts logs = '' and started_at = finished_at, applied_steps_count 0. */
export async function markApplied(client: Queryable, schema: string, name: string, checksum: string): Promise<string> {
  const id = randomUUID();
  await client.query(
    `INSERT INTO ${qualifiedName(schema, PRISMA_TABLE)} (id, checksum, logs, started_at, finished_at, migration_name)
     VALUES ($1, $2, '', now(), now(), $3)`,
    [id, checksum, name],
  );
  return id;
}

export async function markRolledBack(client: Queryable, schema: string, id: string): Promise<void> {
  await client.query(`UPDATE ${qualifiedName(schema, PRISMA_TABLE)} SET rolled_back_at = now() WHERE id = $1`, [id]);
}

/** A row Prisma counts as failed: started, never finished, not rolled back. */
export function isFailed(row: PrismaMigrationRow): boolean {
  return row.finished_at === null && row.rolled_back_at === null;
}

export function isApplied(row: PrismaMigrationRow): boolean {
  return row.finished_at !== null && row.rolled_back_at === null;
}

interface PgErrorLike {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
  position?: string;
}

/**
 * The `logs` text of a failed migration, in the layout Prisma's engine writes, so `prisma migrate status`
 * and people reading the table see the same thing whichever tool failed.
 */
export function formatFailureLogs(name: string, err: unknown, sql?: string): string {
  const e = (err ?? {}) as PgErrorLike;
  const parts = [
    'A migration failed to apply. New migrations cannot be applied before the error is recovered from. Read more about how to resolve migration issues in a production database: https://pris.ly/d/migrate-resolve',
    `Migration name: ${name}`,
  ];
  if (e.code) parts.push(`Database error code: ${e.code}`);
  const lines = [`ERROR: ${e.message ?? String(err)}`];
  if (e.detail) lines.push(`DETAIL: ${e.detail}`);
  if (e.hint) lines.push(`HINT: ${e.hint}`);
  parts.push(`Database error:\n${lines.join('\n')}`);
  if (e.position && sql) {
    const line = lineAt(sql, Number(e.position) - 1);
    const src = sql.split('\n');
    const from = Math.max(0, line - 2);
    parts.push(`Position:\n${src.slice(from, line + 1).map((l, i) => `${String(from + i + 1).padStart(3)} ${l}`).join('\n')}`);
  }
  return parts.join('\n\n');
}

/** 0-based line of a 0-based character offset. */
function lineAt(text: string, offset: number): number {
  let line = 0;
  for (let i = 0; i < Math.min(offset, text.length); i++) if (text[i] === '\n') line++;
  return line;
}
