import type pg from 'pg';
import { withTransaction } from '../db/transaction.ts';

export interface PlanSummary {
  totalCost: number;
  /** Every "Index Name" in the plan (real or hypothetical). */
  indexNames: string[];
  /** Relations read by a Seq Scan. */
  seqScans: string[];
}

const STATEMENT_NAME = 'axisor_optimize_probe';

/**
 * EXPLAIN (FORMAT JSON) of a normalized statement ($1, $2... in place of constants) as a GENERIC plan: the plan
 * the server would use for any parameter values, which is what the statement costs across the workload.
 * It is PREPAREd (the server infers the parameter types) and EXPLAIN EXECUTEd with NULLs under
 * plan_cache_mode = force_generic_plan (PG12+). PG16's EXPLAIN (GENERIC_PLAN) would do the same; this one path
 * works on every supported version. Nothing is executed (no ANALYZE), the transaction is READ ONLY and rolled
 * back, and the prepared statement (which survives a rollback) is always deallocated. Locks taken by planning
 * are released at the rollback, so a waiting DDL is not queued behind this session for long.
 */
export async function explainGeneric(client: pg.Client, sql: string): Promise<PlanSummary> {
  let prepared = false;
  try {
    return await withTransaction(client, { readOnly: true, rollbackAtEnd: true, mapErrors: false }, async () => {
      await client.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
      // The text is one statement (checked by the parser before), so PREPARE ... AS cannot smuggle a second one.
      await client.query(`PREPARE ${STATEMENT_NAME} AS ${sql}`);
      prepared = true;
      const p = await client.query(`SELECT coalesce(cardinality(parameter_types), 0)::int AS n FROM pg_prepared_statements WHERE name = $1`, [STATEMENT_NAME]);
      const n = p.rows[0]?.n ?? 0;
      const args = n > 0 ? `(${Array.from({ length: n }, () => 'NULL').join(', ')})` : '';
      const res = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE ${STATEMENT_NAME}${args}`);
      return summarizePlan(res.rows[0]['QUERY PLAN']);
    });
  } finally {
    if (prepared) await client.query(`DEALLOCATE ${STATEMENT_NAME}`).catch(() => {});
  }
}

export function summarizePlan(json: unknown): PlanSummary {
  const doc = (typeof json === 'string' ? JSON.parse(json) : json) as Array<{ Plan: Record<string, any> }>;
  const root = doc[0]!.Plan;
  const indexNames: string[] = [];
  const seqScans: string[] = [];
  const walk = (node: Record<string, any>) => {
    if (typeof node['Index Name'] === 'string') indexNames.push(node['Index Name']);
    if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) seqScans.push(node['Relation Name']); // no Schema without VERBOSE
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(root);
  return { totalCost: Number(root['Total Cost']), indexNames, seqScans };
}
