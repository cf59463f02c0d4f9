import { totalmem } from 'node:os';
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../db/ident.ts';

/** One constraint or index, as PostgreSQL prints it back, so it can be recreated with the same name and definition. */
export interface SavedObject {
  table: string;
  name: string;
  /** pg_get_constraintdef (constraints) or pg_get_indexdef (indexes: a whole CREATE INDEX statement). */
  definition: string;
  kind: 'foreign_key' | 'primary_key' | 'unique' | 'index';
}

type Queryable = Pick<pg.Client, 'query'>;

/**
 * The foreign keys touching `tables` (from or to them), their primary keys / unique constraints, and their other
 * indexes. Reading the definitions from the catalog (not from the migration file) means whatever the database
 * really has is put back, under the same names: the schema does not drift.
 */
export async function captureTableDdl(client: Queryable, schema: string, tables: readonly string[]): Promise<SavedObject[]> {
  const { rows } = await client.query<{ table: string; name: string; definition: string; kind: SavedObject['kind'] }>(`
    WITH t AS (
      SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::text[])
    )
    SELECT cl.relname AS table, con.conname AS name, pg_get_constraintdef(con.oid) AS definition,
           CASE con.contype WHEN 'f' THEN 'foreign_key' WHEN 'p' THEN 'primary_key' ELSE 'unique' END AS kind
      FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid
     WHERE (con.contype = 'f' AND (con.conrelid IN (SELECT oid FROM t) OR con.confrelid IN (SELECT oid FROM t)))
        OR (con.contype IN ('p', 'u') AND con.conrelid IN (SELECT oid FROM t))
    UNION ALL
    SELECT cl.relname, ic.relname, pg_get_indexdef(i.indexrelid), 'index'
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class cl ON cl.oid = i.indrelid
     WHERE i.indrelid IN (SELECT oid FROM t)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid)
     ORDER BY 1, 2`, [schema, tables]);
  return rows;
}

/** Drops in dependency order: foreign keys, then keys, then indexes. */
export async function dropTableDdl(client: Queryable, schema: string, saved: readonly SavedObject[]): Promise<void> {
  for (const kind of ['foreign_key', 'primary_key', 'unique', 'index'] as const) {
    for (const o of saved.filter((x) => x.kind === kind)) {
      await client.query(kind === 'index'
        ? `DROP INDEX ${qualifiedName(schema, o.name)}`
        : `ALTER TABLE ${qualifiedName(schema, o.table)} DROP CONSTRAINT ${quoteIdent(o.name)}`);
    }
  }
}

/**
 * Recreates what dropTableDdl dropped: keys, then indexes, then foreign keys (validated at once, so they end up
 * exactly as the migration made them: convalidated = true). `onStep` reports each object's build time.
 */
export async function restoreTableDdl(client: Queryable, schema: string, saved: readonly SavedObject[], onStep?: (o: SavedObject, ms: number) => void): Promise<void> {
  for (const kind of ['primary_key', 'unique', 'index', 'foreign_key'] as const) {
    for (const o of saved.filter((x) => x.kind === kind)) {
      const started = performance.now();
      await client.query(kind === 'index'
        ? o.definition
        : `ALTER TABLE ${qualifiedName(schema, o.table)} ADD CONSTRAINT ${quoteIdent(o.name)} ${o.definition}`);
      onStep?.(o, performance.now() - started);
    }
  }
}

/**
 * maintenance_work_mem for index and key builds after a bulk load, sized to the machine: an eighth of its memory
 * per concurrent build, at most 1 GB (more buys nothing for btree sorts), at least 64 MB; so the sorts of the big
 * tables stay in memory. Shared by seed (one build at a time) and restore (`jobs` at a time).
 */
export function maintenanceWorkMemMb(concurrent: number, memBytes = totalmem()): number {
  return Math.max(64, Math.min(1024, Math.floor(memBytes / 8 / Math.max(1, concurrent) / (1024 * 1024))));
}
