import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import type { RelationRef, ResolvedTable } from './candidates.ts';

const refKey = (r: RelationRef) => `${r.schema ?? ''}\u0000${r.name}`;

/**
 * Maps parsed relation names to real tables with the server's own name resolution (to_regclass, using this
 * session's search_path), so quoting, case and schemas behave exactly as they did for the application. Only
 * ordinary tables and materialized views outside the system schemas can take an index; views, foreign and
 * partitioned tables (HypoPG cannot plan those) are left out.
 */
export class TableCatalog {
  private readonly byRef = new Map<string, ResolvedTable | null>();

  constructor(private readonly client: pg.Client) {}

  async load(refs: readonly RelationRef[]): Promise<void> {
    const missing = [...new Map(refs.filter((r) => !this.byRef.has(refKey(r))).map((r) => [refKey(r), r])).values()];
    if (missing.length === 0) return;
    const names = missing.map((r) => (r.schema ? qualifiedName(r.schema, r.name) : quoteIdent(r.name)));
    const { rows } = await this.client.query(`
      SELECT r.ord::int AS ord, c.oid::int AS oid, n.nspname AS schema, c.relname AS name, greatest(c.reltuples, 0)::float8 AS reltuples,
             ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS cols,
             ARRAY(SELECT format_type(a.atttypid, NULL) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS types
      FROM unnest($1::text[]) WITH ORDINALITY r(name, ord)
      JOIN pg_class c ON c.oid = to_regclass(r.name)
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`, [names]);
    for (const r of missing) this.byRef.set(refKey(r), null);
    for (const row of rows) {
      const cols = row.cols as string[];
      const types = row.types as string[];
      this.byRef.set(refKey(missing[row.ord - 1]!), {
        oid: row.oid, schema: row.schema, name: row.name, reltuples: row.reltuples, columns: new Map(cols.map((c, i) => [c, types[i]!])),
      });
    }
  }

  get(ref: RelationRef): ResolvedTable | undefined {
    return this.byRef.get(refKey(ref)) ?? undefined;
  }
}

/** Types a plain btree index does nothing for (Dexter skips json, jsonb and point too). */
const NOT_BTREE = new Set(['json', 'jsonb', 'point', 'xml', 'tsvector', 'tsquery', 'box', 'polygon', 'circle', 'line', 'lseg', 'path']);

export function btreeIndexable(type: string): boolean {
  return !NOT_BTREE.has(type);
}

/**
 * Functions of these names defined outside pg_catalog. Planning constant-folds IMMUTABLE (and evaluates some
 * STABLE) function calls, so EXPLAIN of a statement calling a user-defined function would RUN that function with
 * this tool's role: a statement recorded from a less privileged role could use it to escalate. Such statements are
 * not planned.
 */
export async function userDefinedFunctions(client: pg.Client, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const { rows } = await client.query(`
    SELECT DISTINCT p.proname::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.proname = ANY($1::text[]) AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`, [names]);
  return rows.map((r) => r.name as string);
}
