import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import { withClient } from '../db/index.ts';
import { quoteIdent } from '../db/ident.ts';

/** Diagnostics must never hang on a sick server: 30 s per statement unless --statement-timeout says otherwise. */
export const DEFAULT_DIAGNOSTICS_TIMEOUT_MS = 30_000;

/**
 * The statement timeout for read-only diagnostics. An explicit setting (flag, env, file) wins, even 0; the
 * foundation's default of 0 ("none") is replaced by 30 s, because these queries are supposed to be cheap.
 */
export function diagnosticsTimeoutMs(config: AxisorConfig): number {
  return config.sources.statementTimeoutMs === undefined || config.sources.statementTimeoutMs === 'default'
    ? DEFAULT_DIAGNOSTICS_TIMEOUT_MS
    : config.statementTimeoutMs;
}

/** The role's own statement_timeout/lock_timeout, read before this run sets its own. */
export interface SessionDefaults {
  statementTimeout: string;
  lockTimeout: string;
}

/**
 * One client for a diagnostics run, with the statement timeout, a recognisable application_name (so the run
 * can tell its own sessions apart) and the configured schema first on the search_path: unqualified names in
 * pg_stat_statements texts were written against the application's schema.
 * The timeouts are SET after connecting (not sent at start-up) so that the role's defaults can be reported
 * first; behind a transaction pooler a session SET would leak to other clients, so none is sent there.
 */
export async function withDiagnosticsClient<T>(config: AxisorConfig, command: string, fn: (client: pg.Client, defaults: SessionDefaults) => Promise<T>, opts: { lockTimeoutMs?: number } = {}): Promise<T> {
  return withClient(config, async (client) => {
    const d = await client.query(`SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt`);
    const defaults: SessionDefaults = { statementTimeout: d.rows[0].st, lockTimeout: d.rows[0].lt };
    if (!config.connection.pgbouncer) {
      await client.query(`SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)`,
        [`${diagnosticsTimeoutMs(config)}ms`, `${opts.lockTimeoutMs ?? config.lockTimeoutMs}ms`]);
    }
    await client.query(`SELECT set_config('search_path', $1, false)`, [`${quoteIdent(config.schema)}, public`]);
    return fn(client, defaults);
  }, { statementTimeoutMs: 0, lockTimeoutMs: 0, applicationName: `axisor-db ${command}` });
}

export interface ServerInfo {
  database: string;
  versionNum: number;
  version: string;
  isSuperuser: boolean;
  statsReset: string | null;
}

export async function readServerInfo(client: pg.Client): Promise<ServerInfo> {
  const { rows } = await client.query(`
    SELECT current_database() AS database, current_setting('server_version_num')::int AS version_num,
           current_setting('server_version') AS version,
           coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS is_superuser,
           (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset`);
  const r = rows[0];
  return { database: r.database, versionNum: r.version_num, version: r.version, isSuperuser: r.is_superuser, statsReset: r.stats_reset ? new Date(r.stats_reset).toISOString() : null };
}
