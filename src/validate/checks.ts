import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { rowKeyJson } from '../db/row-key.ts';
import type { Catalog, Relation, TableInfo } from './catalog.ts';

export type Severity = 'error' | 'warn';

/** What `fix` does about a check's failing rows (see src/fix/fixes.ts). */
export type FixKind = 'quarantine-delete' | 'set-plan-free' | 'recount-executions';

/**
 * One check = one set-based query returning the failing rows (dbt's model). `sql` lists every failing row, key
 * columns first; it is what the report prints and what a user pastes into psql.
 */
export interface Check {
  name: string;
  table: string;
  severity: Severity;
  kind: 'relationship' | 'rule';
  description: string;
  /** Primary-key columns of `table` (the sample keys). */
  key: string[];
  sql: string;
  /**
   * Row-level checks on `table` also give a predicate over alias `t` and the LEFT JOINs (to unique keys, so
   * they never multiply rows) it needs. The runner folds all row checks of one table into one scan.
   */
  row?: { joins: RowJoin[]; predicate: string };
  fix?: FixKind;
  /**
   * For fixable checks: the failure condition over alias `t` alone (no joins), re-evaluated by fix on each row
   * it changes, so a row repaired concurrently since detection is left alone.
   */
  recheck?: string;
  relation?: Relation;
  /**
   * The query the runner executes when it differs from `sql`: one row, n0 = failing rows, s0 = up to $1 keys.
   * Must count exactly the rows `sql` lists (the integration tests compare them).
   */
  probeSql?: string;
}

export interface RowJoin {
  /** Stable id: checks sharing a join share its alias in a grouped scan. */
  id: string;
  table: string;
  /** ON condition, written with `t` for the checked table and `{j}` for the joined table's alias. */
  on: string;
}

/** A key expression for samples: the bare value for a one-column key, a JSON object otherwise. */
export function keyExpr(key: string[], alias: string): string {
  if (key.length === 0) return `${alias}.ctid::text`;
  if (key.length === 1) return `${alias}.${quoteIdent(key[0])}`;
  return rowKeyJson(key, alias);
}

export function keyColumns(table: TableInfo | undefined): string[] {
  return table?.primaryKey ?? [];
}

function selectList(key: string[], extra: string[], alias: string): string {
  const cols = [...key, ...extra.filter((c) => !key.includes(c))];
  return cols.length ? cols.map((c) => `${alias}.${quoteIdent(c)}`).join(', ') : `${alias}.ctid`;
}

/** Name of the relationship check for a relation: orphan:<Child>.<col>[,<col>] */
export function relationshipCheckName(r: Relation): string {
  return `orphan:${r.childTable}.${r.childColumns.join(',')}`;
}

/**
 * The relationship check: child rows whose (non-null) key has no parent. MATCH SIMPLE semantics, as PostgreSQL
 * enforces by default: a row with any NULL in the FK columns is not checked. Anti-join, never NOT IN: NOT IN
 * (subquery) cannot become a hashed anti-join once the subquery outgrows work_mem and is wrong with NULLs.
 */
export function relationshipCheck(catalog: Catalog, r: Relation): Check {
  const child = qualifiedName(catalog.schema, r.childTable);
  const parent = qualifiedName(catalog.schema, r.parentTable);
  const key = keyColumns(catalog.tables.get(r.childTable));
  const notNull = r.childColumns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
  const match = (alias: string, childAlias: string) =>
    r.childColumns.map((c, i) => `${alias}.${quoteIdent(r.parentColumns[i])} = ${childAlias}.${quoteIdent(c)}`).join(' AND ');
  const sql = `SELECT ${selectList(key, r.childColumns, 'c')} FROM ${child} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${match('p', 'c')})`;
  const source = r.constraint ? (r.prisma ? `FK ${r.constraint} and schema.prisma ${r.prisma}` : `FK ${r.constraint}`) : `schema.prisma ${r.prisma} (no FK constraint in the database)`;
  return {
    name: relationshipCheckName(r),
    table: r.childTable,
    severity: 'error',
    kind: 'relationship',
    description: `${r.childTable}.${r.childColumns.join(',')} references a missing ${r.parentTable} row (${source})`,
    key,
    sql,
    row: {
      joins: [{ id: `${r.parentTable}(${r.parentColumns.join(',')})=t(${r.childColumns.join(',')})`, table: r.parentTable, on: match('{j}', 't') }],
      predicate: `${r.childColumns.map((c) => `t.${quoteIdent(c)} IS NOT NULL`).join(' AND ')} AND {j0}.${quoteIdent(r.parentColumns[0])} IS NULL`,
    },
    probeSql: relationshipProbeSql(child, parent, key, r),
    fix: 'quarantine-delete',
    recheck: `${r.childColumns.map((c) => `t.${quoteIdent(c)} IS NOT NULL`).join(' AND ')} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${match('p', 't')})`,
    relation: r,
  };
}

/**
 * Counts orphans from the FK columns alone, so the planner can anti-join the child's FK index (index-only) with
 * the parent's key instead of scanning the heap; then fetches up to $1 sample keys through the FK index for the
 * first bad values. On 5M trades this halves the time of the plain listing query, which must read the heap.
 */
function relationshipProbeSql(child: string, parent: string, key: string[], r: Relation): string {
  const v = r.childColumns.map((c, i) => `c.${quoteIdent(c)} AS v${i}`).join(', ');
  const vs = r.childColumns.map((_, i) => `v${i}`).join(', ');
  const cols = `(${r.childColumns.map((c) => `c.${quoteIdent(c)}`).join(', ')})`;
  const notNull = r.childColumns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
  const match = r.childColumns.map((c, i) => `p.${quoteIdent(r.parentColumns[i])} = c.${quoteIdent(c)}`).join(' AND ');
  return `WITH bad AS MATERIALIZED (SELECT ${v} FROM ${child} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${match}))
SELECT (SELECT count(*) FROM bad) AS n0, ARRAY(SELECT ${keyExpr(key, 'c')} FROM ${child} c WHERE ${cols} IN (SELECT ${vs} FROM bad LIMIT $1) LIMIT $1) AS s0`;
}

/**
 * A row-level rule: `predicate` over alias t (and joined aliases {j0}, {j1}... for `joins`). The listing SQL
 * uses the same joins, so it returns exactly the rows the grouped scan counts.
 */
export function rowRule(catalog: Catalog, spec: {
  name: string; table: string; severity: Severity; description: string; predicate: string; show: string[];
  joins?: Array<Omit<RowJoin, 'id'> & { id?: string }>; fix?: FixKind;
}): Check {
  if (spec.fix && spec.joins?.length) throw new Error(`fixable rule ${spec.name} must not need joins`);
  const key = keyColumns(catalog.tables.get(spec.table));
  const joins = (spec.joins ?? []).map((j, i) => ({ id: j.id ?? `${spec.name}#${i}`, table: j.table, on: j.on }));
  const aliases = joins.map((_, i) => `j${i}`);
  const from = `${qualifiedName(catalog.schema, spec.table)} t${joins.map((j, i) => ` LEFT JOIN ${qualifiedName(catalog.schema, j.table)} ${aliases[i]} ON ${j.on.replaceAll('{j}', aliases[i])}`).join('')}`;
  const predicate = aliases.reduce((p, a, i) => p.replaceAll(`{j${i}}`, a), spec.predicate);
  return {
    name: spec.name,
    table: spec.table,
    severity: spec.severity,
    kind: 'rule',
    description: spec.description,
    key,
    sql: `SELECT ${selectList(key, spec.show, 't')} FROM ${from} WHERE ${predicate}`,
    row: { joins, predicate: spec.predicate },
    fix: spec.fix,
    recheck: spec.fix ? spec.predicate : undefined,
  };
}

/** A set-level rule (duplicates, aggregates): `sql` already lists the failing rows of `table` with its key first. */
export function setRule(catalog: Catalog, spec: { name: string; table: string; severity: Severity; description: string; sql: string; fix?: FixKind; recheck?: string }): Check {
  return { ...spec, kind: 'rule', key: keyColumns(catalog.tables.get(spec.table)) };
}

/** One relationship check per relation of the catalog (FK constraints plus schema.prisma relations). */
export function relationshipChecks(catalog: Catalog): Check[] {
  return catalog.relations.map((r) => relationshipCheck(catalog, r));
}
