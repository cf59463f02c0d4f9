import type pg from 'pg';
import type { ServiceContext } from '../service.ts';
import { sortFindings, type Finding } from './findings.ts';
import { POOL_SETTINGS, POOL_SQL, type ActivityRow, type ConnectionTotals } from './pool-sql.ts';
import { readServerInfo, withDiagnosticsClient, type SessionDefaults } from './session.ts';
import { hiddenFinding, readVisibility } from './visibility.ts';

export const POOL_THRESHOLDS = { connectionsWarning: 0.8, connectionsCritical: 0.95, criticalMultiplier: 5 } as const;

export interface DebugPoolOptions {
  /** An active query older than this is flagged (warning; critical at 5×). */
  longQueryMs: number;
  /** A session idle in a transaction for longer than this is flagged (warning; critical at 5×). */
  idleInTransactionMs: number;
}

export interface SessionRow {
  pid: number;
  user: string | null;
  application: string;
  client: string | null;
  state: string | null;
  waitEvent: string | null;
  queryMs: number | null;
  transactionMs: number | null;
  /** Time in the current state: for 'idle in transaction', how long it has been idle. */
  stateMs: number | null;
  blockedBy: number[];
  query: string;
  flag: 'long_query' | 'idle_in_transaction' | 'blocked' | null;
}

export interface DebugPoolResult {
  database: string;
  server: string;
  pooler: boolean;
  connections: { total: number; clientBackends: number; maxConnections: number; reserved: number; available: number; usedFraction: number; poolMax: number };
  byState: Array<{ state: string; application: string; user: string | null; count: number }>;
  sessions: SessionRow[];
  blocking: Array<{ pid: number; blocks: number[]; state: string | null; application: string; transactionMs: number | null; query: string }>;
  chains: Array<{ root: number; blocked: number[] }>;
  settings: Record<string, string>;
  thresholds: { longQueryMs: number; idleInTransactionMs: number } & typeof POOL_THRESHOLDS;
  /** Sessions of other roles this role may not inspect (no pg_read_all_stats): counted, never silently dropped. */
  visibility: { role: string; readAllStats: boolean; hiddenSessions: number; hiddenSessionsThisDatabase: number; grant: string | null };
  findings: Finding[];
}

/** Reads the pool picture in one session, classifies it and turns it into findings. Exit code: exitCodeFor(result). */
export async function debugPool(opts: DebugPoolOptions, ctx: ServiceContext): Promise<DebugPoolResult> {
  const { config } = ctx;
  return withDiagnosticsClient(config, 'debug-pool', async (client, defaults) => {
    const server = await readServerInfo(client);
    const settings = await readPoolSettings(client, defaults);
    const visibility = await readVisibility(client);
    const totals = (await client.query<ConnectionTotals>(POOL_SQL.totals)).rows[0]!;
    const byState = (await client.query<DebugPoolResult['byState'][number]>(POOL_SQL.byState)).rows;
    const rows = (await client.query<ActivityRow>(POOL_SQL.sessions)).rows.map((r) => toSessionRow(r, opts));
    const blocking = await readBlockers(client, rows);
    const result: DebugPoolResult = {
      database: server.database,
      server: server.version,
      pooler: config.connection.pgbouncer,
      connections: connectionUse(totals, settings, config.pool.max),
      byState,
      sessions: rows,
      blocking,
      chains: blockingChains(rows),
      settings,
      thresholds: { longQueryMs: opts.longQueryMs, idleInTransactionMs: opts.idleInTransactionMs, ...POOL_THRESHOLDS },
      visibility: { role: visibility.role, readAllStats: visibility.readAllStats, hiddenSessions: totals.hidden, hiddenSessionsThisDatabase: totals.hidden_here, grant: visibility.readAllStats ? null : visibility.grant },
      findings: [],
    };
    const hidden = hiddenFinding(visibility, 'hidden_sessions', totals.hidden, 'session(s)',
      `their state, query, transaction age and blocking are not visible, so long queries, idle transactions and blocking chains among them are not reported (${totals.hidden_here} in database ${server.database})`);
    result.findings = sortFindings([...poolFindings(result, opts), ...(hidden ? [hidden] : [])]);
    return result;
  });
}

/** The settings that matter for a pool; this session's own timeouts are the tool's, so the role's defaults are reported instead. */
async function readPoolSettings(client: pg.Client, defaults: SessionDefaults): Promise<Record<string, string>> {
  const settings: Record<string, string> = {};
  for (const r of (await client.query(POOL_SQL.settings, [POOL_SETTINGS])).rows) settings[r.name] = `${r.setting}${r.unit && r.setting !== '0' ? r.unit : ''}`;
  settings.statement_timeout = defaults.statementTimeout;
  settings.lock_timeout = defaults.lockTimeout;
  return settings;
}

/** Blockers may be idle (session advisory locks) or in another database, so they are read by pid. */
async function readBlockers(client: pg.Client, rows: readonly SessionRow[]): Promise<DebugPoolResult['blocking']> {
  const pids = [...new Set(rows.flatMap((r) => r.blockedBy))];
  if (pids.length === 0) return [];
  const blockers = (await client.query(POOL_SQL.blockers, [pids])).rows;
  return blockers.map((b) => ({ pid: b.pid, blocks: rows.filter((r) => r.blockedBy.includes(b.pid)).map((r) => r.pid), state: b.state, application: b.application ?? '', transactionMs: b.xact_ms, query: b.query ?? '' }));
}

/** One pg_stat_activity row, flagged: blocked first, then a long active query, then a long idle transaction. */
export function toSessionRow(r: ActivityRow, t: Pick<DebugPoolOptions, 'longQueryMs' | 'idleInTransactionMs'>): SessionRow {
  const blockedBy = r.blocked_by ?? [];
  const flag = blockedBy.length > 0 ? 'blocked'
    : r.state === 'active' && (r.query_ms ?? 0) >= t.longQueryMs ? 'long_query'
    : /^idle in transaction/.test(r.state ?? '') && (r.state_ms ?? 0) >= t.idleInTransactionMs ? 'idle_in_transaction' : null;
  return { pid: r.pid, user: r.user, application: r.application ?? '', client: r.client, state: r.state, waitEvent: r.wait_event, queryMs: r.query_ms, transactionMs: r.xact_ms, stateMs: r.state_ms, blockedBy, query: r.query ?? '', flag };
}

/** Connections in use against what the server can give (max_connections minus the superuser reserve). */
export function connectionUse(totals: Pick<ConnectionTotals, 'total' | 'clients'>, settings: Record<string, string>, poolMax: number): DebugPoolResult['connections'] {
  const maxConnections = Number(settings.max_connections);
  const reserved = Number(settings.superuser_reserved_connections ?? 0);
  const available = Math.max(1, maxConnections - reserved);
  return { total: totals.total, clientBackends: totals.clients, maxConnections, reserved, available, usedFraction: totals.clients / available, poolMax };
}

/** Roots are blockers that are not blocked themselves; each chain lists everything waiting behind its root, transitively. */
export function blockingChains(rows: ReadonlyArray<Pick<SessionRow, 'pid' | 'blockedBy'>>): Array<{ root: number; blocked: number[] }> {
  const waitsOn = new Map(rows.map((r) => [r.pid, r.blockedBy]));
  const blockers = new Set(rows.flatMap((r) => r.blockedBy));
  const roots = [...blockers].filter((p) => (waitsOn.get(p) ?? []).length === 0).sort((a, b) => a - b);
  return roots.map((root) => {
    const blocked = new Set<number>();
    let frontier = [root];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const r of rows) if (!blocked.has(r.pid) && r.blockedBy.some((p) => frontier.includes(p))) { blocked.add(r.pid); next.push(r.pid); }
      frontier = next;
    }
    return { root, blocked: [...blocked].sort((a, b) => a - b) };
  });
}

const secs = (ms: number | null) => `${Math.round((ms ?? 0) / 1000)}s`;

function poolFindings(r: DebugPoolResult, opts: DebugPoolOptions): Finding[] {
  const f: Finding[] = [];
  const c = r.connections;
  if (c.usedFraction >= POOL_THRESHOLDS.connectionsWarning) {
    f.push({ check: 'connections', severity: c.usedFraction >= POOL_THRESHOLDS.connectionsCritical ? 'critical' : 'warning', value: c.clientBackends, threshold: c.available, message: `${c.clientBackends} of ${c.available} usable connections in use (max_connections ${c.maxConnections} - ${c.reserved} reserved)` });
  }
  if (c.poolMax > c.available) {
    f.push({ check: 'pool_max', severity: 'warning', value: c.poolMax, threshold: c.available, message: `the configured pool max (${c.poolMax}) exceeds the server's usable connections (${c.available}); lower pool.max / --pool-max or raise max_connections` });
  }
  const crit = POOL_THRESHOLDS.criticalMultiplier;
  for (const s of r.sessions) {
    if (s.flag === 'long_query') f.push({ check: 'long_query', severity: (s.queryMs ?? 0) >= crit * opts.longQueryMs ? 'critical' : 'warning', object: `pid ${s.pid}`, value: s.queryMs, threshold: opts.longQueryMs, message: `pid ${s.pid} (${s.application || s.user}) has been running one query for ${secs(s.queryMs)}` });
    if (s.flag === 'idle_in_transaction') f.push({ check: 'idle_in_transaction', severity: (s.stateMs ?? 0) >= crit * opts.idleInTransactionMs ? 'critical' : 'warning', object: `pid ${s.pid}`, value: s.stateMs, threshold: opts.idleInTransactionMs, message: `pid ${s.pid} (${s.application || s.user}) is idle in a transaction for ${secs(s.stateMs)} (transaction open ${secs(s.transactionMs)}): it holds its locks and its snapshot stops vacuum` });
    if (s.flag === 'blocked') f.push({ check: 'blocked', severity: (s.stateMs ?? 0) >= opts.longQueryMs ? 'critical' : 'warning', object: `pid ${s.pid}`, value: s.stateMs, message: `pid ${s.pid} waits for ${s.waitEvent ?? 'a lock'} held by pid ${s.blockedBy.join(', ')} (${secs(s.stateMs)})` });
  }
  if (r.settings.idle_in_transaction_session_timeout === '0') f.push({ check: 'setting', severity: 'info', object: 'idle_in_transaction_session_timeout', value: '0', message: 'idle_in_transaction_session_timeout is 0: a forgotten transaction can hold locks forever (e.g. ALTER ROLE app SET idle_in_transaction_session_timeout = \'60s\')' });
  if (r.settings.statement_timeout === '0') f.push({ check: 'setting', severity: 'info', object: 'statement_timeout', value: '0', message: 'statement_timeout is 0 for this role: a runaway query is never cancelled' });
  if (r.pooler) f.push({ check: 'pooler', severity: 'warning', message: 'the URL looks like a transaction pooler (PgBouncer, port 6432 or pgbouncer=true): pg_stat_activity shows the pooler\'s server connections, not your clients; session state (SET, advisory locks, prepared statements) is unsafe, and this tool\'s statement timeout is not applied. Point --database-url at the server directly for diagnostics' });
  return f;
}
