import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';
import { PrerequisiteError } from '../errors.ts';

/**
 * pg_stat_statements' columns follow the INSTALLED extension version, not the server version (an upgraded
 * server keeps the old column set until ALTER EXTENSION ... UPDATE; PgHero#341):
 *   <= 1.7 (PG12-): total_time, mean_time, blk_read_time
 *   1.8 (PG13): total_exec_time + total_plan_time (plan time is 0 unless track_planning = on)
 *   1.11 (PG17): blk_read_time renamed shared_blk_read_time
 * So the SELECT is built from the view's actual attributes.
 */
export interface StatStatementsStatus {
  /** The extension's files are on the server (postgresql-contrib). */
  available: boolean;
  /** CREATE EXTENSION was run in this database. */
  installed: boolean;
  /**
   * The library is in shared_preload_libraries (needs a restart to change). null: not visible to this role
   * (no pg_read_all_settings) and the extension is not created, so it could not be tried either.
   */
  preloaded: boolean | null;
  version: string | null;
  schema: string | null;
  /** 'exec_time' (1.8+) or 'legacy' (total_time/mean_time). */
  columnSet: 'exec_time' | 'legacy' | null;
  /** Why it cannot be used; null when usable. */
  problem: string | null;
  /** Exact steps to enable it; empty when usable. */
  steps: string[];
  statsReset: string | null;
}

export interface StatementRow {
  queryid: string;
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  /** Share of the database's total statement time, in percent. */
  percent: number;
}

interface Columns {
  total: string;
  io: string | null;
}

const statusCache = new WeakMap<pg.Client, Columns>();

function isPreloaded(setting: string): boolean {
  return setting.split(',').map((s) => s.trim().replace(/^"|"$/g, '')).some((lib) => /(^|\/)pg_stat_statements$/.test(lib));
}

export async function detectStatStatements(client: pg.Client): Promise<StatStatementsStatus> {
  // shared_preload_libraries is readable only with pg_read_all_settings (or superuser): pg_settings simply omits
  // the row for other roles, so it is read from there (never current_setting, which raises 42501), and when it
  // is not visible, whether the library is loaded is found out by querying the view (SQLSTATE 55000 if not).
  const { rows } = await client.query(`
    SELECT e.extversion, n.nspname,
           EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available,
           (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload, current_database() AS db
    FROM (SELECT 1) one
    LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
    LEFT JOIN pg_namespace n ON n.oid = e.extnamespace`);
  const r = rows[0];
  const preloadKnown = typeof r.preload === 'string';
  const status: StatStatementsStatus = {
    available: r.available, installed: r.extversion !== null, preloaded: preloadKnown ? isPreloaded(r.preload) : null, version: r.extversion,
    schema: r.nspname, columnSet: null, problem: null, steps: [], statsReset: null,
  };
  if (status.installed && status.preloaded === null) status.preloaded = await probeLoaded(client, qualifiedName(status.schema!, 'pg_stat_statements'));
  const current = preloadKnown ? (r.preload as string).trim() : null;
  const preloadStep = current === null
    ? `make sure pg_stat_statements is in shared_preload_libraries (SHOW shared_preload_libraries; as a superuser, then ALTER SYSTEM SET shared_preload_libraries = '<that list>, pg_stat_statements'; or edit postgresql.conf; on a managed service use its parameter group)`
    : `add it to shared_preload_libraries: ALTER SYSTEM SET shared_preload_libraries = '${current ? `${current}, ` : ''}pg_stat_statements'; (or edit postgresql.conf; on a managed service use its parameter group)`;
  const restartStep = 'restart the PostgreSQL server (shared_preload_libraries is read only at start-up)';
  const createStep = `in database "${r.db}": CREATE EXTENSION IF NOT EXISTS pg_stat_statements;`;
  if (!status.available) {
    status.problem = 'the pg_stat_statements extension is not installed on the server';
    status.steps = ['install the contrib package (Debian: apt-get install postgresql-contrib)', ...(status.preloaded ? [] : [preloadStep, restartStep]), createStep];
  } else if (status.preloaded === false) {
    status.problem = 'pg_stat_statements is not in shared_preload_libraries';
    status.steps = [preloadStep, restartStep, ...(status.installed ? [] : [createStep])];
  } else if (!status.installed) {
    status.problem = `the pg_stat_statements extension is not created in database "${r.db}"`;
    // Whether the library is preloaded cannot be seen without pg_read_all_settings; say both steps.
    status.steps = status.preloaded === null ? [preloadStep, restartStep, createStep] : [createStep];
  }
  if (status.problem) return status;

  const view = qualifiedName(status.schema!, 'pg_stat_statements');
  const cols = await client.query(`SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, [view]);
  const names = new Set(cols.rows.map((c) => c.attname as string));
  let columns: Columns;
  if (names.has('total_exec_time')) {
    status.columnSet = 'exec_time';
    columns = { total: names.has('total_plan_time') ? 's.total_exec_time + coalesce(s.total_plan_time, 0)' : 's.total_exec_time', io: null };
  } else if (names.has('total_time')) {
    status.columnSet = 'legacy';
    columns = { total: 's.total_time', io: null };
  } else {
    status.problem = `pg_stat_statements ${status.version} has neither total_exec_time nor total_time`;
    status.steps = ['ALTER EXTENSION pg_stat_statements UPDATE;'];
    return status;
  }
  columns.io = names.has('shared_blk_read_time') ? 's.shared_blk_read_time + s.shared_blk_write_time' : names.has('blk_read_time') ? 's.blk_read_time + s.blk_write_time' : null;
  statusCache.set(client, columns);
  // pg_stat_statements_info exists from 1.9 (PG14).
  const info = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [qualifiedName(status.schema!, 'pg_stat_statements_info')]);
  if (info.rows[0].present) {
    const reset = await client.query(`SELECT stats_reset FROM ${qualifiedName(status.schema!, 'pg_stat_statements_info')}`);
    status.statsReset = reset.rows[0]?.stats_reset ? new Date(reset.rows[0].stats_reset).toISOString() : null;
  }
  return status;
}

/** Runs the view once: the extension's functions raise 55000 when the library was not preloaded. */
async function probeLoaded(client: pg.Client, view: string): Promise<boolean> {
  try {
    await client.query(`SELECT 1 FROM ${view} LIMIT 1`);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '55000') return false;
    throw err;
  }
}

/** Statements of this database whose text and id are hidden from this role (no pg_read_all_stats). */
export async function countHiddenStatements(client: pg.Client, status: StatStatementsStatus): Promise<{ statements: number; totalMs: number }> {
  const columns = statusCache.get(client);
  if (!columns || status.problem) return { statements: 0, totalMs: 0 };
  const { rows } = await client.query(`
    SELECT count(*)::int AS n, coalesce(sum(${columns.total}), 0)::float8 AS ms FROM ${qualifiedName(status.schema!, 'pg_stat_statements')} s
    WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.query = '<insufficient privilege>'`);
  return { statements: rows[0].n, totalMs: rows[0].ms };
}

/** Throws the PREREQUISITE error (exit 69) naming every step, or returns when the view is usable. */
export function requireStatStatements(status: StatStatementsStatus): void {
  if (!status.problem) return;
  const steps = status.steps.map((s, i) => `  ${i + 1}. ${s}`).join('\n');
  throw new PrerequisiteError('pg_stat_statements', `${status.problem}; optimize reads the workload from it. To enable it:\n${steps}`, {
    hint: status.steps.join('; then '),
    details: { steps: status.steps, available: status.available, preloaded: status.preloaded, installed: status.installed },
  });
}

export interface ReadStatementsOptions {
  limit: number;
  minCalls: number;
  /** Order by total time (the workload's cost) or by mean time (slowest single calls). */
  orderBy: 'total' | 'mean';
  minMeanMs?: number;
}

/**
 * Top statements of the CURRENT database (PgHero's filter; pg-extras' userid filter hides other roles'
 * queries). Rows whose text is hidden by privileges are dropped. One row per queryid.
 */
export async function readStatements(client: pg.Client, status: StatStatementsStatus, opts: ReadStatementsOptions): Promise<StatementRow[]> {
  const columns = statusCache.get(client);
  if (!columns || status.problem) throw new Error('readStatements called without a usable pg_stat_statements');
  const view = qualifiedName(status.schema!, 'pg_stat_statements');
  const order = opts.orderBy === 'mean' ? 'mean_ms' : 'total_ms';
  const { rows } = await client.query(`
    WITH s AS (
      SELECT s.queryid, min(s.query) AS query, sum(s.calls) AS calls, sum(${columns.total}) AS total_ms, sum(s.rows) AS rows
      FROM ${view} s
      WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND s.query <> '<insufficient privilege>' AND s.queryid IS NOT NULL
      GROUP BY s.queryid
    ), t AS (
      -- the share is of the whole database's time, so it is computed before the filters below
      SELECT s.*, 100 * total_ms / nullif(sum(total_ms) OVER (), 0) AS percent FROM s
    )
    SELECT queryid::text AS queryid, query, calls::bigint AS calls, total_ms::float8 AS total_ms,
           (total_ms / nullif(calls, 0))::float8 AS mean_ms, rows::bigint AS rows, percent::float8 AS percent
    FROM t
    WHERE calls >= $2 AND (total_ms / nullif(calls, 0)) >= $3
    ORDER BY ${order} DESC NULLS LAST
    LIMIT $1`, [opts.limit, opts.minCalls, opts.minMeanMs ?? 0]);
  return rows.map((r) => ({ queryid: r.queryid, query: r.query, calls: Number(r.calls), totalMs: r.total_ms ?? 0, meanMs: r.mean_ms ?? 0, rows: Number(r.rows), percent: r.percent ?? 0 }));
}
