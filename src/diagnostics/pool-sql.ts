/** The SQL debug-pool runs, named (src/diagnostics/pool.ts reads it; nothing here runs anything). */

export const POOL_SETTINGS = ['max_connections', 'superuser_reserved_connections', 'idle_in_transaction_session_timeout', 'statement_timeout', 'lock_timeout', 'idle_session_timeout', 'deadlock_timeout', 'tcp_keepalives_idle'];

export interface ConnectionTotals {
  total: number;
  clients: number;
  hidden: number;
  hidden_here: number;
}

export interface ActivityRow {
  pid: number;
  user: string | null;
  application: string | null;
  client: string | null;
  state: string | null;
  wait_event: string | null;
  query_ms: number | null;
  xact_ms: number | null;
  state_ms: number | null;
  blocked_by: number[] | null;
  query: string | null;
}

export const POOL_SQL = {
  /** $1: the setting names. */
  settings: `SELECT name, setting, coalesce(unit, '') AS unit FROM pg_settings WHERE name = ANY($1)`,
  /** A hidden session has backend_type NULL; one with a database is a client backend (or a worker serving one). */
  totals: `
      SELECT count(*)::int AS total,
             count(*) FILTER (WHERE backend_type = 'client backend' OR (backend_type IS NULL AND datid IS NOT NULL))::int AS clients,
             count(*) FILTER (WHERE backend_type IS NULL AND datid IS NOT NULL)::int AS hidden,
             count(*) FILTER (WHERE backend_type IS NULL AND datname = current_database())::int AS hidden_here
      FROM pg_stat_activity`,
  byState: `
      SELECT coalesce(state, 'unknown') AS state, application_name AS application, usename AS user, count(*)::int AS count
      FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
      GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 1, 2`,
  /** Every non-idle client session of this database but ours, oldest transaction first (at most 200). */
  sessions: `
      SELECT pid, usename AS user, application_name AS application, client_addr::text AS client, state,
             CASE WHEN wait_event IS NULL THEN NULL ELSE wait_event_type || ':' || wait_event END AS wait_event,
             (extract(epoch FROM now() - query_start) * 1000)::float8 AS query_ms,
             (extract(epoch FROM now() - xact_start) * 1000)::float8 AS xact_ms,
             (extract(epoch FROM now() - state_change) * 1000)::float8 AS state_ms,
             pg_blocking_pids(pid) AS blocked_by, left(query, 1000) AS query
      FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'
      ORDER BY coalesce(xact_start, query_start) NULLS LAST, pid LIMIT 200`,
  /** $1: the blocking pids. */
  blockers: `
      SELECT pid, state, application_name AS application, (extract(epoch FROM now() - xact_start) * 1000)::float8 AS xact_ms, left(query, 1000) AS query
      FROM pg_stat_activity WHERE pid = ANY($1) ORDER BY pid`,
} as const;
