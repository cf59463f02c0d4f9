import type pg from 'pg';
import type { IndexInfo } from '../diagnostics/indexes.ts';
import type { ResolvedColumn, ResolvedTable } from './candidates.ts';
import { btreeIndexable } from './catalog.ts';
import type { ProofOptions, ProofResult, ProposedIndex } from './hypo.ts';
import { explainGeneric } from './plan.ts';

/**
 * Without HypoPG: PgHero's statistics heuristic, reported with LOWER confidence because no plan proves it.
 * Only tables the statement's real generic plan reads with a Seq Scan are considered; their WHERE columns that
 * are compared directly (=, IN, <, <=, >, >=, BETWEEN, IS NULL) are ranked by the rows pg_stats says they
 * leave (equality: rows × (1 - null_frac) / n_distinct; a range: PostgreSQL's default 1/3). Up to two
 * columns, equality first, a range column only last; a second column must cut the rows by 70% more
 * (PgHero). The result must leave at most 10% of the table, and no existing btree may already lead with it.
 */
export const HEURISTIC = { minRows: 500, maxSelectivity: 0.1, secondColumnCut: 0.3, stopRows: 50, rangeSelectivity: 1 / 3 } as const;

const EQUALITY = new Set(['=', 'IN']);
const RANGE = new Set(['<', '<=', '>', '>=', 'BETWEEN']);

interface ColumnStats {
  nullFrac: number;
  nDistinct: number;
}

async function readColumnStats(client: pg.Client, table: ResolvedTable): Promise<Map<string, ColumnStats>> {
  const { rows } = await client.query(`SELECT attname, null_frac::float8 AS null_frac, n_distinct::float8 AS n_distinct FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND NOT inherited`, [table.schema, table.name]);
  return new Map(rows.map((r) => [r.attname as string, { nullFrac: r.null_frac, nDistinct: r.n_distinct }]));
}

export function estimateRows(rows: number, op: string, s: ColumnStats | undefined): number | null {
  if (!s) return null;
  if (op === 'IS NULL') return rows * s.nullFrac;
  if (op === 'IS NOT NULL') return rows * (1 - s.nullFrac);
  if (EQUALITY.has(op)) {
    const distinct = s.nDistinct > 0 ? s.nDistinct : -s.nDistinct * rows;
    return distinct > 0 ? (rows * (1 - s.nullFrac)) / distinct : null;
  }
  if (RANGE.has(op)) return rows * HEURISTIC.rangeSelectivity;
  return null;
}

export async function proveWithHeuristic(client: pg.Client, sql: string, columns: readonly ResolvedColumn[], existing: readonly IndexInfo[], opts: ProofOptions): Promise<ProofResult & { estimatedRows?: number }> {
  let initialCost: number;
  let seqScans: string[];
  try {
    const plan = await explainGeneric(client, sql);
    initialCost = plan.totalCost;
    seqScans = plan.seqScans;
  } catch (err) {
    return { outcome: 'unplannable', initialCost: null, newCost: null, reduction: null, indexes: [], error: (err as Error).message };
  }
  const base = { initialCost, newCost: null, reduction: null, indexes: [] as ProposedIndex[] };
  if (initialCost < opts.minCost) return { outcome: 'below_min_cost', ...base };

  const byTable = new Map<number, { table: ResolvedTable; cols: ResolvedColumn[] }>();
  for (const c of columns) {
    if (c.clause !== 'where' || !c.operator || !btreeIndexable(c.table.columns.get(c.column) ?? '')) continue;
    if (!seqScans.includes(c.table.name) || c.table.reltuples < HEURISTIC.minRows) continue;
    const e = byTable.get(c.table.oid) ?? { table: c.table, cols: [] };
    e.cols.push(c);
    byTable.set(c.table.oid, e);
  }
  let estimatedRows: number | undefined;
  for (const { table, cols } of byTable.values()) {
    const stats = await readColumnStats(client, table);
    const ranked = cols
      .map((c) => ({ c, rows: estimateRows(table.reltuples, c.operator!, stats.get(c.column)), range: RANGE.has(c.operator!) }))
      .filter((x): x is { c: ResolvedColumn; rows: number; range: boolean } => x.rows !== null)
      .sort((a, b) => Number(a.range) - Number(b.range) || a.rows - b.rows);
    if (ranked.length === 0) continue;
    const chosen = [ranked[0]!];
    let rows = ranked[0]!.rows;
    const second = ranked.find((x) => x.c.column !== ranked[0]!.c.column);
    if (!ranked[0]!.range && second && rows >= HEURISTIC.stopRows) {
      const combined = rows * (second.rows / table.reltuples);
      if (combined <= rows * HEURISTIC.secondColumnCut) { chosen.push(second); rows = combined; }
    }
    if (rows / table.reltuples > HEURISTIC.maxSelectivity) continue;
    const colsChosen = chosen.map((x) => x.c.column);
    const covered = existing.some((i) => i.valid && i.method === 'btree' && i.predicate === null && i.schema === table.schema && i.table === table.name && i.columns[0] === colsChosen[0]);
    if (covered) continue;
    base.indexes.push({ table, columns: colsChosen, bytes: null });
    estimatedRows = Math.round(rows);
  }
  if (base.indexes.length === 0) return { outcome: 'no_improvement', ...base };
  return { outcome: 'improved', ...base, estimatedRows };
}
