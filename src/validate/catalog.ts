import type { PrismaRelation, PrismaSchemaInfo } from './prisma-schema.ts';

type Queryable = { query: (sql: string, params?: unknown[]) => Promise<{ rows: any[] }> };

/** A child -> parent relation, found in pg_constraint, in schema.prisma, or both. */
export interface Relation {
  childTable: string;
  childColumns: string[];
  parentTable: string;
  parentColumns: string[];
  /** FK constraint name when the database enforces it. */
  constraint?: string;
  /** pg_constraint.convalidated: false for NOT VALID constraints (old rows were never checked). */
  validated?: boolean;
  /** ON DELETE action as pg_constraint.confdeltype: a=no action, r=restrict, c=cascade, n=set null, d=set default. */
  onDelete?: 'a' | 'r' | 'c' | 'n' | 'd';
  /** Declared in schema.prisma as Model.field. */
  prisma?: string;
}

export interface TableInfo {
  name: string;
  primaryKey: string[];
  columns: string[];
}

export interface Catalog {
  schema: string;
  tables: Map<string, TableInfo>;
  relations: Relation[];
}

/** Every FK constraint whose child table is in `schema`, with column lists in key order. */
const FK_SQL = `
SELECT c.conname, cl.relname AS child, pcl.relname AS parent, pns.nspname AS parent_schema,
       c.convalidated, c.confdeltype,
       array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS child_cols,
       array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS parent_cols
FROM pg_constraint c
JOIN pg_class cl ON cl.oid = c.conrelid
JOIN pg_namespace ns ON ns.oid = cl.relnamespace
JOIN pg_class pcl ON pcl.oid = c.confrelid
JOIN pg_namespace pns ON pns.oid = pcl.relnamespace
WHERE c.contype = 'f' AND ns.nspname = $1
ORDER BY cl.relname, c.conname`;

const TABLES_SQL = `
SELECT cl.relname AS name,
       coalesce(array(SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(n, o)
                      JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = k.n
                      WHERE i.indrelid = cl.oid AND i.indisprimary ORDER BY k.o), '{}')::text[] AS pk,
       array(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)::text[] AS cols
FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
WHERE ns.nspname = $1 AND cl.relkind IN ('r', 'p')
ORDER BY cl.relname`;

export async function loadCatalog(client: Queryable, schema: string, prisma?: PrismaSchemaInfo): Promise<Catalog> {
  const tables = new Map<string, TableInfo>();
  for (const r of (await client.query(TABLES_SQL, [schema])).rows) tables.set(r.name, { name: r.name, primaryKey: r.pk, columns: r.cols });
  const relations: Relation[] = [];
  for (const r of (await client.query(FK_SQL, [schema])).rows) {
    // A FK to a table in another schema is still checked, but our generated SQL qualifies by one schema; skip it
    // rather than check the wrong table. None exist in the Axisor model.
    if (r.parent_schema !== schema) continue;
    relations.push({
      childTable: r.child, childColumns: r.child_cols, parentTable: r.parent, parentColumns: r.parent_cols,
      constraint: r.conname, validated: r.convalidated, onDelete: r.confdeltype,
    });
  }
  return { schema, tables, relations: mergePrismaRelations(relations, prisma?.relations ?? [], tables) };
}

export function relationKey(r: Pick<Relation, 'childTable' | 'childColumns' | 'parentTable' | 'parentColumns'>): string {
  return `${r.childTable}(${r.childColumns.join(',')})->${r.parentTable}(${r.parentColumns.join(',')})`;
}

/**
 * Adds schema.prisma relations to the catalog's. A relation known to both is one entry (with `prisma` set);
 * a Prisma-only relation (relationMode = "prisma", or a constraint dropped by hand) becomes its own entry,
 * provided both tables exist; otherwise there is nothing to check and the caller reports it.
 */
export function mergePrismaRelations(catalog: Relation[], prisma: PrismaRelation[], tables: Map<string, TableInfo>): Relation[] {
  const byKey = new Map(catalog.map((r) => [relationKey(r), { ...r }]));
  for (const p of prisma) {
    const key = relationKey(p);
    const existing = byKey.get(key);
    if (existing) {
      existing.prisma = `${p.model}.${p.field}`;
      continue;
    }
    if (!tables.has(p.childTable) || !tables.has(p.parentTable)) continue;
    byKey.set(key, {
      childTable: p.childTable, childColumns: p.childColumns, parentTable: p.parentTable, parentColumns: p.parentColumns,
      prisma: `${p.model}.${p.field}`, onDelete: prismaOnDelete(p.onDelete),
    });
  }
  return [...byKey.values()].sort((a, b) => relationKey(a).localeCompare(relationKey(b)));
}

function prismaOnDelete(action: string | undefined): Relation['onDelete'] {
  switch (action) {
    case 'Cascade': return 'c';
    case 'SetNull': return 'n';
    case 'SetDefault': return 'd';
    case 'Restrict': return 'r';
    default: return 'a';
  }
}

/** Prisma relations whose tables are missing from the database: reported, since they cannot be checked. */
export function uncheckableRelations(prisma: PrismaRelation[], tables: Map<string, TableInfo>): PrismaRelation[] {
  return prisma.filter((p) => !tables.has(p.childTable) || !tables.has(p.parentTable));
}
