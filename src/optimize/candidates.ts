import { parse } from 'libpg-query';
import { repairTypedParams } from './typed-params.ts';

/**
 * Candidate index columns from a normalized statement, found with PostgreSQL's own parser (libpg_query), not
 * regexes: column references in WHERE, JOIN ... ON/USING and ORDER BY, each with the scope it appeared in so
 * aliases, CTE names and subqueries resolve correctly. Mapping to real tables happens later, through the catalog.
 */
export interface RelationRef {
  schema?: string;
  name: string;
}

export type Clause = 'where' | 'join' | 'order';

export interface ScopeTable {
  /** null for a name in scope that is not a table (CTE, subquery, function). */
  relation: RelationRef | null;
}

export interface Scope {
  parent: Scope | null;
  /** alias (or bare relation name) → table */
  names: Map<string, ScopeTable>;
  ctes: Set<string>;
}

export interface RawColumnRef {
  scope: Scope;
  qualifier: string[];
  column: string;
  clause: Clause;
  /** The operator it is compared with when it is a direct operand ('=', '<', 'IS NULL', 'IN'...). */
  operator: string | null;
}

export interface StatementShape {
  kind: 'select' | 'update' | 'delete' | 'insert';
  /** The text to PREPARE: the input with typed-literal parameters rewritten as casts (see typed-params.ts). */
  sql: string;
  relations: RelationRef[];
  columns: RawColumnRef[];
  /** Names of every function the statement calls (last name part), to refuse planning user-defined ones. */
  functions: string[];
}

type Node = Record<string, any>;

const PLANNABLE: Record<string, StatementShape['kind']> = { SelectStmt: 'select', UpdateStmt: 'update', DeleteStmt: 'delete', InsertStmt: 'insert' };

/** null when the text is not exactly one SELECT/UPDATE/DELETE/INSERT (utility statements, several statements, parse errors). */
export async function parseStatement(sql: string): Promise<StatementShape | null> {
  let tree: Node;
  try {
    tree = await parse(sql) as Node;
  } catch {
    return null;
  }
  const stmts = (tree.stmts ?? []) as Node[];
  if (stmts.length !== 1) return null;
  const [type, body] = Object.entries(stmts[0]!.stmt ?? {})[0] ?? [];
  const kind = type ? PLANNABLE[type] : undefined;
  if (!kind) return null;
  const shape: StatementShape = { kind, sql: repairTypedParams(sql, tree), relations: [], columns: [], functions: functionNames(tree) };
  walkStatement({ [type!]: body }, null, shape);
  return shape;
}

function functionNames(tree: unknown): string[] {
  const names = new Set<string>();
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) { n.forEach(walk); return; }
    if (!n || typeof n !== 'object') return;
    const call = (n as Node).FuncCall;
    const last = call?.funcname?.[call.funcname.length - 1]?.String?.sval;
    if (typeof last === 'string') names.add(last);
    for (const v of Object.values(n as object)) walk(v);
  };
  walk(tree);
  return [...names].sort();
}

function newScope(parent: Scope | null): Scope {
  return { parent, names: new Map(), ctes: new Set() };
}

function isCte(scope: Scope | null, name: string): boolean {
  for (let s = scope; s; s = s.parent) if (s.ctes.has(name)) return true;
  return false;
}

function walkStatement(node: Node, parent: Scope | null, shape: StatementShape): void {
  const [type, s] = Object.entries(node)[0] ?? [];
  if (!type || !s) return;
  const scope = newScope(parent);
  if (s.withClause) {
    for (const cte of s.withClause.ctes ?? []) {
      const c = cte.CommonTableExpr;
      if (!c) continue;
      scope.ctes.add(c.ctename);
      if (c.ctequery) walkStatement(c.ctequery, scope, shape);
    }
  }
  if (type === 'SelectStmt') {
    if (s.op && s.op !== 'SETOP_NONE') {
      if (s.larg) walkStatement({ SelectStmt: s.larg }, scope, shape);
      if (s.rarg) walkStatement({ SelectStmt: s.rarg }, scope, shape);
      return;
    }
    const joins: Node[] = [];
    for (const item of s.fromClause ?? []) addFrom(item, scope, shape, joins);
    for (const q of joins) collect(q, scope, 'join', shape);
    if (s.whereClause) collect(s.whereClause, scope, 'where', shape);
    for (const sort of s.sortClause ?? []) if (sort.SortBy?.node) collect(sort.SortBy.node, scope, 'order', shape);
    // Sub-selects in the target list and HAVING have WHERE clauses of their own.
    for (const t of s.targetList ?? []) subqueriesOnly(t, scope, shape);
    if (s.havingClause) subqueriesOnly(s.havingClause, scope, shape);
  } else if (type === 'UpdateStmt' || type === 'DeleteStmt') {
    const joins: Node[] = [];
    if (s.relation) addFrom({ RangeVar: s.relation }, scope, shape, joins);
    for (const item of s.fromClause ?? s.usingClause ?? []) addFrom(item, scope, shape, joins);
    for (const q of joins) collect(q, scope, 'join', shape);
    if (s.whereClause) collect(s.whereClause, scope, 'where', shape);
  } else if (type === 'InsertStmt') {
    if (s.selectStmt) walkStatement(s.selectStmt, scope, shape);
  }
}

function addFrom(item: Node, scope: Scope, shape: StatementShape, joins: Node[]): void {
  if (item.RangeVar) {
    const rv = item.RangeVar;
    const alias = rv.alias?.aliasname ?? rv.relname;
    if (!rv.schemaname && isCte(scope, rv.relname)) {
      scope.names.set(alias, { relation: null });
      return;
    }
    const relation: RelationRef = rv.schemaname ? { schema: rv.schemaname, name: rv.relname } : { name: rv.relname };
    scope.names.set(alias, { relation });
    shape.relations.push(relation);
  } else if (item.JoinExpr) {
    const j = item.JoinExpr;
    if (j.larg) addFrom(j.larg, scope, shape, joins);
    if (j.rarg) addFrom(j.rarg, scope, shape, joins);
    if (j.quals) joins.push(j.quals);
    // USING (a, b): the column exists in both sides; an unqualified ref resolves to whichever table has it.
    for (const u of j.usingClause ?? []) if (u.String?.sval) joins.push({ ColumnRef: { fields: [{ String: { sval: u.String.sval } }] } });
  } else if (item.RangeSubselect) {
    const r = item.RangeSubselect;
    if (r.subquery) walkStatement(r.subquery, scope, shape);
    if (r.alias?.aliasname) scope.names.set(r.alias.aliasname, { relation: null });
  } else if (item.RangeFunction) {
    const alias = item.RangeFunction.alias?.aliasname;
    if (alias) scope.names.set(alias, { relation: null });
  }
}

const STATEMENT_TYPES = new Set(Object.keys(PLANNABLE));

/** Collects ColumnRefs under `node`, descending into sub-selects as statements of their own. */
function collect(node: unknown, scope: Scope, clause: Clause, shape: StatementShape, operator: string | null = null): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, scope, clause, shape, operator);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const n = node as Node;
  for (const [key, value] of Object.entries(n)) {
    if (STATEMENT_TYPES.has(key)) {
      walkStatement({ [key]: value }, scope, shape);
    } else if (key === 'ColumnRef') {
      const fields = (value.fields ?? []) as Node[];
      if (fields.some((f) => f.A_Star)) continue;
      const names = fields.map((f) => f.String?.sval as string);
      shape.columns.push({ scope, qualifier: names.slice(0, -1), column: names[names.length - 1]!, clause, operator });
    } else if (key === 'A_Expr') {
      const op = value.kind === 'AEXPR_IN' ? 'IN' : value.kind === 'AEXPR_BETWEEN' ? 'BETWEEN' : value.kind === 'AEXPR_LIKE' ? 'LIKE' : value.kind === 'AEXPR_ILIKE' ? 'ILIKE'
        : (value.name?.[0]?.String?.sval as string | undefined) ?? null;
      // Only a bare column operand carries the operator; inside a function call (lower(x) = $1) it does not.
      collect(value.lexpr, scope, clause, shape, value.lexpr?.ColumnRef ? op : null);
      collect(value.rexpr, scope, clause, shape, value.rexpr?.ColumnRef ? op : null);
    } else if (key === 'NullTest') {
      collect(value.arg, scope, clause, shape, value.arg?.ColumnRef ? (value.nulltesttype === 'IS_NOT_NULL' ? 'IS NOT NULL' : 'IS NULL') : null);
    } else if (key === 'BoolExpr') {
      collect(value.args, scope, clause, shape, null);
    } else if (key === 'SubLink') {
      // x IN (SELECT ...) / x = ANY (SELECT ...) is an equality probe on x
      collect(value.testexpr, scope, clause, shape, value.subLinkType === 'ANY_SUBLINK' && value.testexpr?.ColumnRef ? 'IN' : null);
      if (value.subselect) walkStatement(value.subselect, scope, shape);
    } else if (typeof value === 'object') {
      collect(value, scope, clause, shape, null);
    }
  }
}

function subqueriesOnly(node: unknown, scope: Scope, shape: StatementShape): void {
  if (Array.isArray(node)) {
    for (const n of node) subqueriesOnly(n, scope, shape);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Node)) {
    if (key === 'SubLink' && value.subselect) walkStatement(value.subselect, scope, shape);
    else if (STATEMENT_TYPES.has(key)) walkStatement({ [key]: value }, scope, shape);
    else if (typeof value === 'object') subqueriesOnly(value, scope, shape);
  }
}

/** A column resolved to a real table (after the catalog lookup). */
export interface ResolvedColumn {
  table: ResolvedTable;
  column: string;
  clause: Clause;
  operator: string | null;
}

export interface ResolvedTable {
  oid: number;
  schema: string;
  name: string;
  reltuples: number;
  columns: Map<string, string>; // name → type
}

/**
 * Resolves each column reference: a qualified one through its scope chain's aliases; an unqualified one to the
 * single table in the nearest scope that has such a column (ambiguous or unknown → dropped, as the server would).
 */
export function resolveColumns(shape: StatementShape, lookup: (rel: RelationRef) => ResolvedTable | undefined): ResolvedColumn[] {
  const out: ResolvedColumn[] = [];
  const seen = new Set<string>();
  for (const ref of shape.columns) {
    let table: ResolvedTable | undefined;
    if (ref.qualifier.length > 0) {
      const alias = ref.qualifier[ref.qualifier.length - 1]!;
      const schema = ref.qualifier.length > 1 ? ref.qualifier[ref.qualifier.length - 2] : undefined;
      for (let s: Scope | null = ref.scope; s && !table; s = s.parent) {
        const entry = s.names.get(alias);
        if (entry === undefined) continue;
        if (entry.relation && (!schema || entry.relation.schema === schema)) table = lookup(entry.relation);
        break;
      }
    } else {
      for (let s: Scope | null = ref.scope; s && !table; s = s.parent) {
        const hits = [...s.names.values()].map((e) => (e.relation ? lookup(e.relation) : undefined)).filter((t): t is ResolvedTable => !!t && t.columns.has(ref.column));
        if (hits.length === 1) table = hits[0];
        if (hits.length > 0 || [...s.names.values()].some((e) => e.relation === null)) break;
      }
    }
    if (!table || !table.columns.has(ref.column)) continue;
    const key = `${table.oid}.${ref.column}.${ref.clause}.${ref.operator}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ table, column: ref.column, clause: ref.clause, operator: ref.operator });
  }
  return out;
}
