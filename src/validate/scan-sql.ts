import { qualifiedName } from '../db/ident.ts';
import { keyExpr, type Check } from './checks.ts';

/**
 * The SQL the runner executes. A unit is one query: either a grouped scan (every row check of one table in one
 * pass, FILTER aggregates per check) or one set check wrapped for count + samples.
 */
export interface Unit {
  table: string;
  checks: Check[];
  /** Parameter $1 is the sample limit. Returns one row: n0, s0, n1, s1, ... (count, sample keys) per check. */
  sql: string;
}

/**
 * Sample keys are collected with array_agg(...) FILTER and cut to $1 entries. For a failing set that is
 * pathologically large the aggregate holds every failing key in memory (about 50 bytes a key) before the cut;
 * the bench compares this with a bounded running-count window, which costs more on every row of the scan.
 */
export function groupedScanSql(schema: string, table: string, checks: Check[]): string {
  const joinAlias = new Map<string, { alias: string; table: string; on: string }>();
  const preds: string[] = [];
  for (const c of checks) {
    if (!c.row) throw new Error(`check ${c.name} is not a row check`);
    let pred = c.row.predicate;
    c.row.joins.forEach((j, i) => {
      let entry = joinAlias.get(j.id);
      if (!entry) {
        entry = { alias: `j${joinAlias.size}`, table: j.table, on: j.on };
        joinAlias.set(j.id, entry);
      }
      pred = pred.replaceAll(`{j${i}}`, entry.alias);
    });
    preds.push(pred);
  }
  const key = checks[0].key;
  const joins = [...joinAlias.values()].map((j) => ` LEFT JOIN ${qualifiedName(schema, j.table)} ${j.alias} ON ${j.on.replaceAll('{j}', j.alias)}`).join('');
  const flags = preds.map((p, i) => `(${p}) AS c${i}`).join(', ');
  const aggs = preds.map((_, i) => `count(*) FILTER (WHERE c${i}) AS n${i}, (array_agg(k) FILTER (WHERE c${i}))[1:$1] AS s${i}`).join(', ');
  // OR of the flags in the outer WHERE: the aggregate only sees failing rows, so a clean table costs one scan
  // (plus joins) and no aggregation work.
  const any = preds.map((_, i) => `c${i}`).join(' OR ');
  return `SELECT ${aggs} FROM (SELECT ${keyExpr(key, 't')} AS k, ${flags} FROM ${qualifiedName(schema, table)} t${joins}) x WHERE ${any}`;
}

/** count + up to $1 sample keys of a check's failing rows (its listing SQL as is), in one pass over them. */
export function setCheckSql(check: Check): string {
  return `SELECT count(*) AS n0, (array_agg(k) FILTER (WHERE rn <= $1)) AS s0 FROM (SELECT ${keyExpr(check.key, 'f')} AS k, row_number() OVER () AS rn FROM (${check.sql}) f) x`;
}

/**
 * Groups the selected checks into units. Row checks without joins share one scan per table. Relationship checks
 * run on their own: measured on 5M trades, one scan with five LEFT JOINs (15 s) lost to five separate anti-joins
 * (7 s) that the planner can run on the FK indexes alone.
 */
export function planUnits(schema: string, checks: Check[]): Unit[] {
  const units: Unit[] = [];
  const byTable = new Map<string, Check[]>();
  for (const c of checks) {
    if (c.probeSql) units.push({ table: c.table, checks: [c], sql: c.probeSql });
    else if (c.row && c.row.joins.length === 0) {
      const list = byTable.get(c.table) ?? [];
      list.push(c);
      byTable.set(c.table, list);
    } else units.push({ table: c.table, checks: [c], sql: setCheckSql(c) });
  }
  for (const [table, list] of byTable) units.push({ table, checks: list, sql: groupedScanSql(schema, table, list) });
  return units;
}
