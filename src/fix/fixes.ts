import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { RefusedError } from '../errors.ts';
import type { Catalog } from '../validate/catalog.ts';
import { keyExpr, type Check, type FixKind } from '../validate/checks.ts';
import { executionCountOf, PLAN_TYPE_FIX_VALUE } from '../validate/rules.ts';
import { pkMatch, quarantineDelete, quarantineUpdate, type StepContext } from './quarantine.ts';

type Queryable = pg.Client | pg.PoolClient;

export interface TableChange {
  table: string;
  op: 'delete' | 'update';
  rows: number;
}

export interface FixOutcome {
  /** Failing rows found when the fix started. */
  found: number;
  samples: unknown[];
  changes: TableChange[];
}

/** What each fix kind does, in words for the report and README. */
export const FIX_ACTIONS: Record<FixKind, string> = {
  'quarantine-delete': 'quarantine, delete (dependents per ON DELETE)',
  'set-plan-free': `quarantine, set plan_type = '${PLAN_TYPE_FIX_VALUE}'`,
  'recount-executions': 'quarantine, recount execution_count',
};

/** Order of fixes in a run: deletions first (leaf tables before parents), recounts last (deletions change counts). */
export function fixOrder(catalog: Catalog, checks: Check[]): Check[] {
  const referenced = (t: string) => catalog.relations.filter((r) => r.parentTable === t).length;
  const rank = (c: Check) => (c.fix === 'recount-executions' ? 2 : c.fix === 'quarantine-delete' ? 0 : 1);
  return [...checks].sort((a, b) => rank(a) - rank(b) || referenced(a.table) - referenced(b.table) || a.name.localeCompare(b.name));
}

let tempSeq = 0;

/** Materializes keys (row-numbered) in a temp table dropped at commit/rollback; returns its name and size. */
async function materializeKeys(client: Queryable, keysSql: string, pk: string[]): Promise<{ name: string; count: number }> {
  const name = `axisor_fix_keys_${++tempSeq}`;
  const cols = pk.map((k) => `k.${quoteIdent(k)}`).join(', ');
  const r = await client.query(`CREATE TEMP TABLE ${name} ON COMMIT DROP AS SELECT row_number() OVER () AS axisor_n, ${cols} FROM (${keysSql}) k`);
  return { name, count: r.rowCount ?? 0 };
}

function batchCond(keys: string, pk: string[], lo: number, hi: number): string {
  return `EXISTS (SELECT 1 FROM ${keys} b WHERE b.axisor_n > ${lo} AND b.axisor_n <= ${hi} AND ${pkMatch(pk, 'b', 't')})`;
}

function addChange(changes: TableChange[], table: string, op: TableChange['op'], rows: number): void {
  if (!rows) return;
  const c = changes.find((x) => x.table === table && x.op === op);
  if (c) c.rows += rows;
  else changes.push({ table, op, rows });
}

interface Env {
  client: Queryable;
  ctx: StepContext;
  catalog: Catalog;
  batchSize: number;
  changes: TableChange[];
}

/**
 * Deletes (with quarantine) the rows of `table` whose keys `keysSql` returns and that still satisfy `recheck`.
 * Rows referencing them are handled first, as their FK would on delete: CASCADE -> quarantined and deleted
 * (recursively), SET NULL / SET DEFAULT -> quarantined and updated. RESTRICT / NO ACTION with referencing rows
 * refuses the whole run: deleting them would lose data the schema protects.
 */
async function deleteWithDependents(env: Env, table: string, keysSql: string, recheck: string | undefined, depth: number): Promise<number> {
  if (depth > 16) throw new RefusedError('fix_depth', `fix: references nested more than 16 levels deep below ${table}`, { hint: 'fix the deeper tables first with --check' });
  const pk = env.catalog.tables.get(table)!.primaryKey;
  const keys = await materializeKeys(env.client, keysSql, pk);
  const rel = qualifiedName(env.catalog.schema, table);
  let deleted = 0;
  for (let lo = 0; lo < keys.count; lo += env.batchSize) {
    const inBatch = batchCond(keys.name, pk, lo, lo + env.batchSize);
    const targets = `${inBatch}${recheck ? ` AND ${recheck}` : ''}`;
    for (const r of env.catalog.relations.filter((x) => x.parentTable === table)) {
      const child = qualifiedName(env.catalog.schema, r.childTable);
      const childPk = env.catalog.tables.get(r.childTable)!.primaryKey;
      const refs = `(${r.childColumns.map((c) => `c.${quoteIdent(c)}`).join(', ')}) IN (SELECT ${r.parentColumns.map((c) => `t.${quoteIdent(c)}`).join(', ')} FROM ${rel} t WHERE ${targets})`;
      const childKeys = `SELECT ${childPk.map((k) => `c.${quoteIdent(k)}`).join(', ')} FROM ${child} c WHERE ${refs}`;
      if (r.onDelete === 'c') {
        addChange(env.changes, r.childTable, 'delete', await deleteWithDependents(env, r.childTable, childKeys, undefined, depth + 1));
      } else if (r.onDelete === 'n' || r.onDelete === 'd') {
        const set = r.childColumns.map((c) => `${quoteIdent(c)} = ${r.onDelete === 'n' ? 'NULL' : 'DEFAULT'}`).join(', ');
        const where = `EXISTS (SELECT 1 FROM (${childKeys}) k WHERE ${pkMatch(childPk, 'k', 't')})`;
        addChange(env.changes, r.childTable, 'update', await quarantineUpdate(env.client, env.ctx, r.childTable, childPk, where, set));
      } else {
        const { rows } = await env.client.query(`SELECT count(*) AS n FROM (${childKeys}) k`);
        if (Number(rows[0].n) > 0) {
          throw new RefusedError('fix_restrict', `fix ${env.ctx.check}: ${rows[0].n} ${r.childTable} rows reference ${table} rows it would delete, and ${r.constraint ?? 'the relation'} forbids deleting them (ON DELETE RESTRICT / NO ACTION)`, {
            hint: `repair or remove those ${r.childTable} rows first (axisor-db validate --table ${r.childTable}), or leave this check out (--check)`,
          });
        }
      }
    }
    deleted += await quarantineDelete(env.client, env.ctx, table, pk, targets);
  }
  return deleted;
}

async function updateInBatches(env: Env, check: Check, set: string): Promise<number> {
  const keys = await materializeKeys(env.client, `SELECT ${check.key.map((k) => `f.${quoteIdent(k)}`).join(', ')} FROM (${check.sql}) f`, check.key);
  let updated = 0;
  for (let lo = 0; lo < keys.count; lo += env.batchSize) {
    updated += await quarantineUpdate(env.client, env.ctx, check.table, check.key, `${batchCond(keys.name, check.key, lo, lo + env.batchSize)} AND ${check.recheck}`, set);
  }
  return updated;
}

/** Runs one check's fix inside the caller's transaction. */
export async function runFix(client: Queryable, ctx: StepContext, catalog: Catalog, check: Check, opts: { batchSize: number; samples: number }): Promise<FixOutcome> {
  const env: Env = { client, ctx, catalog, batchSize: opts.batchSize, changes: [] };
  const { rows: [found] } = await client.query(
    `SELECT count(*) AS n, (array_agg(k) FILTER (WHERE rn <= $1)) AS s FROM (SELECT ${keyExpr(check.key, 'f')} AS k, row_number() OVER () AS rn FROM (${check.sql}) f) x`,
    [opts.samples],
  );
  const keysSql = `SELECT ${check.key.map((k) => `f.${quoteIdent(k)}`).join(', ')} FROM (${check.sql}) f`;
  switch (check.fix) {
    case 'quarantine-delete':
      addChange(env.changes, check.table, 'delete', await deleteWithDependents(env, check.table, keysSql, check.recheck, 0));
      break;
    case 'set-plan-free':
      addChange(env.changes, check.table, 'update', await updateInBatches(env, check, `${quoteIdent('plan_type')} = '${PLAN_TYPE_FIX_VALUE}'`));
      break;
    case 'recount-executions':
      addChange(env.changes, check.table, 'update', await updateInBatches(env, check, `${quoteIdent('execution_count')} = ${executionCountOf(catalog.schema)}`));
      break;
    default:
      throw new Error(`check ${check.name} has no fix`);
  }
  return { found: Number(found.n), samples: found.s ?? [], changes: env.changes };
}
