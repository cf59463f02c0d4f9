import type pg from 'pg';
import { columnList, qualifiedName, quoteIdent } from '../db/ident.ts';
import type { ResolvedColumn, ResolvedTable } from './candidates.ts';
import { btreeIndexable } from './catalog.ts';
import { explainGeneric, type PlanSummary } from './plan.ts';

export interface HypopgStatus {
  available: boolean;
  installed: boolean;
  version: string | null;
  schema: string | null;
}

export async function detectHypopg(client: pg.Client): Promise<HypopgStatus> {
  const { rows } = await client.query(`
    SELECT e.extversion, n.nspname, EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS available
    FROM (SELECT 1) one LEFT JOIN pg_extension e ON e.extname = 'hypopg' LEFT JOIN pg_namespace n ON n.oid = e.extnamespace`);
  const r = rows[0];
  return { available: r.available, installed: r.extversion !== null, version: r.extversion, schema: r.nspname };
}

export interface ProposedIndex {
  table: ResolvedTable;
  columns: string[];
  /** hypopg_relation_size of the hypothetical index, when planner-proven. */
  bytes: number | null;
}

export type ProofOutcome = 'improved' | 'no_improvement' | 'below_min_cost' | 'unplannable' | 'no_candidates';

export interface ProofResult {
  outcome: ProofOutcome;
  initialCost: number | null;
  /** Cost with the proposed indexes (or the best cost any candidate reached). */
  newCost: number | null;
  reduction: number | null;
  indexes: ProposedIndex[];
  error?: string;
}

export interface ProofOptions {
  /** Fraction of the statement's cost an index must save (Dexter: 0.5). */
  minImprovement: number;
  /** Statements cheaper than this are left alone (Dexter: 100). */
  minCost: number;
  /** Candidate columns per table (pairs grow quadratically). */
  maxColumnsPerTable: number;
}

interface Hypo {
  name: string;
  oid: number;
  table: ResolvedTable;
  columns: string[];
}

/**
 * Dexter's method with HypoPG, on ONE connection (hypothetical indexes live in a single backend):
 *   initial generic-plan cost → pass 1: a hypothetical btree per candidate column → pass 2: plus every ordered
 *   pair per table. A single-column set wins if it saves minImprovement of the initial cost; a multicolumn set
 *   must in addition save minImprovement of the single-column cost ("a high bar for multicolumn indexes").
 *   The indexes the winning plan names are then planned alone, for the final cost and their estimated size.
 * hypopg_reset() runs before and after, so nothing outlives the call.
 */
export async function proveWithHypopg(client: pg.Client, hypopgSchema: string, sql: string, columns: readonly ResolvedColumn[], opts: ProofOptions): Promise<ProofResult> {
  const fn = (name: string) => `${quoteIdent(hypopgSchema)}.${name}`;
  const reset = () => client.query(`SELECT ${fn('hypopg_reset')}()`);
  const create = async (table: ResolvedTable, cols: string[]): Promise<Hypo | null> => {
    const def = `CREATE INDEX ON ${qualifiedName(table.schema, table.name)} USING btree (${columnList(cols)})`;
    try {
      const r = await client.query(`SELECT indexrelid::int AS oid, indexname AS name FROM ${fn('hypopg_create_index')}($1)`, [def]);
      return { oid: r.rows[0].oid, name: r.rows[0].name, table, columns: cols };
    } catch {
      return null; // e.g. a type without a btree opclass: not a candidate
    }
  };

  await reset();
  let initial: PlanSummary;
  try {
    initial = await explainGeneric(client, sql);
  } catch (err) {
    return { outcome: 'unplannable', initialCost: null, newCost: null, reduction: null, indexes: [], error: (err as Error).message };
  }
  const base = { initialCost: initial.totalCost, newCost: null, reduction: null, indexes: [] };
  if (initial.totalCost < opts.minCost) return { outcome: 'below_min_cost', ...base };

  const perTable = candidateColumns(columns, opts.maxColumnsPerTable);
  if (perTable.size === 0) return { outcome: 'no_candidates', ...base };
  try {
    const singles: Hypo[] = [];
    for (const [table, cols] of perTable.values()) for (const c of cols) { const h = await create(table, [c]); if (h) singles.push(h); }
    if (singles.length === 0) return { outcome: 'no_candidates', ...base };
    const pass1 = await explainGeneric(client, sql);
    const used1 = singles.filter((h) => pass1.indexNames.includes(h.name));
    const pairs: Hypo[] = [];
    for (const [table, cols] of perTable.values()) {
      for (const a of cols) for (const b of cols) if (a !== b) { const h = await create(table, [a, b]); if (h) pairs.push(h); }
    }
    const pass2 = pairs.length > 0 ? await explainGeneric(client, sql) : pass1;
    const used2 = [...singles, ...pairs].filter((h) => pass2.indexNames.includes(h.name));
    await reset();

    const keep = 1 - opts.minImprovement;
    const target = initial.totalCost * keep;
    let chosen: Hypo[] | null = null;
    if (used1.length > 0 && pass1.totalCost <= target) chosen = used1;
    const multi = used2.some((h) => h.columns.length > 1);
    if (multi && pass2.totalCost <= target && (chosen === null || pass2.totalCost <= pass1.totalCost * keep)) chosen = used2;
    if (!chosen) return { outcome: 'no_improvement', ...base, newCost: Math.min(pass1.totalCost, pass2.totalCost), reduction: 1 - Math.min(pass1.totalCost, pass2.totalCost) / initial.totalCost };

    // Plan with only the winners: the cost the suggestion really buys, and each index's estimated size.
    const finals: Hypo[] = [];
    for (const h of chosen) { const f = await create(h.table, h.columns); if (f) finals.push(f); }
    const final = await explainGeneric(client, sql);
    const indexes: ProposedIndex[] = [];
    for (const h of finals) {
      const size = await client.query(`SELECT ${fn('hypopg_relation_size')}($1)::float8 AS bytes`, [h.oid]).catch(() => null);
      indexes.push({ table: h.table, columns: h.columns, bytes: size ? size.rows[0].bytes : null });
    }
    const reduction = 1 - final.totalCost / initial.totalCost;
    if (final.totalCost > target) return { outcome: 'no_improvement', ...base, newCost: final.totalCost, reduction };
    return { outcome: 'improved', initialCost: initial.totalCost, newCost: final.totalCost, reduction, indexes };
  } finally {
    await reset().catch(() => {});
  }
}

/** Candidate columns per table, WHERE first, then JOIN, then ORDER BY, skipping types a btree cannot help. */
export function candidateColumns(columns: readonly ResolvedColumn[], max: number): Map<number, [ResolvedTable, string[]]> {
  const order = { where: 0, join: 1, order: 2 } as const;
  const out = new Map<number, [ResolvedTable, string[]]>();
  for (const c of [...columns].sort((a, b) => order[a.clause] - order[b.clause])) {
    if (!btreeIndexable(c.table.columns.get(c.column) ?? '')) continue;
    const entry = out.get(c.table.oid) ?? [c.table, []];
    if (!entry[1].includes(c.column) && entry[1].length < max) entry[1].push(c.column);
    out.set(c.table.oid, entry);
  }
  return out;
}
