import type pg from 'pg';

/**
 * The shape of a schema as PostgreSQL reports it, normalised so that two snapshots (or a snapshot and what
 * schema.prisma declares) compare with deep equality: columns (type, nullability, default), primary key,
 * indexes, foreign keys with their actions. Names are part of it: tooling relies on Prisma's constraint names.
 */
export interface CatalogColumn {
  type: string;
  nullable: boolean;
  default: string | null;
}

export interface CatalogIndex {
  columns: string[];
  unique: boolean;
}

export interface CatalogForeignKey {
  columns: string[];
  references: string;
  referencedColumns: string[];
  onDelete: FkAction;
  onUpdate: FkAction;
}

export type FkAction = 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT';

export interface CatalogTable {
  columns: Record<string, CatalogColumn>;
  primaryKey: { name: string; columns: string[] } | null;
  indexes: Record<string, CatalogIndex>;
  foreignKeys: Record<string, CatalogForeignKey>;
}

export type CatalogSnapshot = Record<string, CatalogTable>;

const ACTIONS: Record<string, FkAction> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/** Tables Prisma or our own tools keep next to the model; not part of it. */
export const NON_MODEL_TABLES = new Set(['_prisma_migrations']);

type Queryable = Pick<pg.Client, 'query'>;

/** Reads the snapshot of every ordinary table of `schema` (minus NON_MODEL_TABLES). */
export async function readCatalog(client: Queryable, schema = 'public'): Promise<CatalogSnapshot> {
  const out: CatalogSnapshot = {};
  const cols = await client.query<{ table: string; column: string; type: string; nullable: boolean; default: string | null }>(`
    SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
           pg_get_expr(d.adbin, d.adrelid) AS default
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
     ORDER BY c.relname, a.attnum`, [schema]);
  for (const r of cols.rows) {
    if (NON_MODEL_TABLES.has(r.table)) continue;
    out[r.table] ??= { columns: {}, primaryKey: null, indexes: {}, foreignKeys: {} };
    out[r.table]!.columns[r.column] = { type: r.type, nullable: r.nullable, default: r.default };
  }
  const idx = await client.query<{ table: string; name: string; columns: string[] | null; unique: boolean; primary: boolean; expr: boolean }>(`
    SELECT c.relname AS table, ic.relname AS name, i.indisunique AS unique, i.indisprimary AS primary,
           (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) AS expr,
           array(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1`, [schema]);
  for (const r of idx.rows) {
    const t = out[r.table];
    if (!t) continue;
    // Expression and partial indexes cannot come from schema.prisma: show them as such, so they count as drift.
    const columns = r.expr ? [`<expression or partial index>`] : r.columns ?? [];
    if (r.primary) t.primaryKey = { name: r.name, columns };
    else t.indexes[r.name] = { columns, unique: r.unique };
  }
  const fks = await client.query<{ table: string; name: string; columns: string[]; references: string; ref_columns: string[]; del: string; upd: string }>(`
    SELECT c.relname AS table, con.conname AS name, rc.relname AS references, con.confdeltype AS del, con.confupdtype AS upd,
           array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns,
           array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS ref_columns
      FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class rc ON rc.oid = con.confrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND con.contype = 'f'`, [schema]);
  for (const r of fks.rows) {
    const t = out[r.table];
    if (!t) continue;
    t.foreignKeys[r.name] = { columns: r.columns, references: r.references, referencedColumns: r.ref_columns, onDelete: ACTIONS[r.del]!, onUpdate: ACTIONS[r.upd]! };
  }
  return sortKeys(out);
}

/** Human-readable differences between two snapshots ("TradeLog.leverage: type numeric(6,2) != numeric(8,2)"). */
export function diffCatalogs(expected: CatalogSnapshot, actual: CatalogSnapshot): string[] {
  const diffs: string[] = [];
  const keys = (a: object, b: object) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const table of keys(expected, actual)) {
    const e = expected[table];
    const a = actual[table];
    if (!e || !a) {
      diffs.push(`${table}: table ${e ? 'missing in the database' : 'not declared in schema.prisma'}`);
      continue;
    }
    for (const col of keys(e.columns, a.columns)) {
      const ec = e.columns[col];
      const ac = a.columns[col];
      if (!ec || !ac) diffs.push(`${table}.${col}: column ${ec ? 'missing in the database' : 'not declared in schema.prisma'}`);
      else for (const k of ['type', 'nullable', 'default'] as const) if (ec[k] !== ac[k]) diffs.push(`${table}.${col}: ${k} ${JSON.stringify(ec[k])} declared, ${JSON.stringify(ac[k])} in the database`);
    }
    if (JSON.stringify(e.primaryKey) !== JSON.stringify(a.primaryKey)) diffs.push(`${table}: primary key ${JSON.stringify(e.primaryKey)} declared, ${JSON.stringify(a.primaryKey)} in the database`);
    for (const [what, ei, ai] of [['index', e.indexes, a.indexes], ['foreign key', e.foreignKeys, a.foreignKeys]] as const) {
      for (const name of keys(ei, ai)) {
        const x = JSON.stringify((ei as Record<string, unknown>)[name] ?? null);
        const y = JSON.stringify((ai as Record<string, unknown>)[name] ?? null);
        if (x !== y) diffs.push(`${table}: ${what} ${name} ${x} declared, ${y} in the database`);
      }
    }
  }
  return diffs;
}

function sortKeys<T>(v: T): T {
  if (Array.isArray(v) || v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])])) as T;
}
