import { qualifiedName } from '../../db/ident.ts';
import { withTransaction } from '../../db/transaction.ts';
import { DatabaseError, PrerequisiteError } from '../../errors.ts';
import { createDataTableSql, readDataHistory, recordDataMigration } from './history.ts';
import { dataChecksum, sortDataMigrations } from './registry.ts';
import type { DataMigration, DataMigrationContext, Queryable } from './types.ts';

/** applied, pending, or modified (applied, but the migration's SQL changed since: reported like schema drift). */
export type DataState = 'applied' | 'pending' | 'modified';

export interface DataMigrationStatus {
  version: number;
  name: string;
  state: DataState;
  checksum: string;
  recordedChecksum?: string;
  finishedAt: string | null;
  durationMs: number | null;
  rowsChanged: number | null;
}

export interface AppliedDataMigration {
  version: number;
  name: string;
  checksum: string;
  rowsChanged: number;
  rowsScanned: number;
  batches: number;
  durationMs: number;
}

export async function dataStatus(client: Queryable, schema: string, migrations: readonly DataMigration[]): Promise<DataMigrationStatus[]> {
  const rows = new Map((await readDataHistory(client, schema)).map((r) => [r.version, r]));
  return sortDataMigrations(migrations).map((m) => {
    const checksum = dataChecksum(m);
    const r = rows.get(m.version);
    if (!r) return { version: m.version, name: m.name, state: 'pending', checksum, finishedAt: null, durationMs: null, rowsChanged: null };
    return {
      version: m.version,
      name: m.name,
      state: r.checksum === checksum ? 'applied' : 'modified',
      checksum,
      ...(r.checksum === checksum ? {} : { recordedChecksum: r.checksum }),
      finishedAt: r.finished_at,
      durationMs: r.duration_ms,
      rowsChanged: r.rows_changed,
    };
  });
}

async function missingTables(client: Queryable, schema: string, tables: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const t of tables) {
    const { rows } = await client.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [qualifiedName(schema, t)]);
    if (!rows[0]?.r) missing.push(t);
  }
  return missing;
}

/**
 * Runs the pending data migrations in version order. Each one and its history row commit in ONE transaction:
 * a failure or an interrupt rolls back both, and the next run starts it again from scratch.
 */
export async function applyDataMigrations(client: Queryable, migrations: readonly DataMigration[], pending: DataMigrationStatus[], ctx: DataMigrationContext): Promise<AppliedDataMigration[]> {
  const todo = new Set(pending.filter((p) => p.state === 'pending').map((p) => p.version));
  if (todo.size === 0) return [];
  await client.query(createDataTableSql(ctx.schema));
  const done: AppliedDataMigration[] = [];
  for (const m of sortDataMigrations(migrations)) {
    if (!todo.has(m.version)) continue;
    const missing = await missingTables(client, ctx.schema, m.requiresTables);
    if (missing.length) {
      throw new PrerequisiteError('tables_missing', `data migration ${m.version} ${m.name} needs table(s) ${missing.map((t) => `"${t}"`).join(', ')} in schema "${ctx.schema}"`, {
        hint: 'apply the schema migrations that create them first (check --migrations-dir and --schema)',
      });
    }
    const checksum = dataChecksum(m);
    const applied = await withTransaction(client, {}, async (tx) => {
      const outcome = await m.up(tx, ctx);
      const { durationMs } = await recordDataMigration(tx, ctx.schema, { version: m.version, name: m.name, checksum, rowsChanged: outcome.rowsChanged });
      return { version: m.version, name: m.name, checksum, ...outcome, durationMs };
    }).catch((err: unknown) => {
      // Name the migration; keep the SQLSTATE (and any non-database error, e.g. an interrupt, as it is).
      if (!(err instanceof DatabaseError)) throw err;
      throw new DatabaseError(`data migration ${m.version} ${m.name} failed and was rolled back: ${err.message}`, {
        sqlState: err.sqlState, cause: err.cause ?? err, details: err.details, hint: err.hint ?? 'fix the cause and run `axisor-db migrate` again; it starts this migration over',
      });
    });
    done.push(applied);
  }
  return done;
}
