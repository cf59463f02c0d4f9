import type pg from 'pg';
import { NotFoundError } from '../errors.ts';
import { quarantineExists, ROWS, RUNS } from './quarantine.ts';

type Queryable = pg.Client | pg.PoolClient;

export interface FixRun {
  runId: string;
  kind: 'apply' | 'undo';
  status: 'running' | 'applied' | 'undone' | 'done';
  undoOf: string | null;
  undoneBy: string | null;
  dbUser: string;
  osUser: string | null;
  applicationName: string | null;
  startedAt: string;
  finishedAt: string | null;
  checks: string[];
  counts: Record<string, unknown>;
  quarantinedRows: number;
}

/** The audit row is written in the fix's own transaction: a run that did not commit leaves no trace at all. */
export async function startRun(client: Queryable, run: { runId: string; kind: 'apply' | 'undo'; osUser?: string; checks: string[]; undoOf?: string }): Promise<void> {
  await client.query(`INSERT INTO ${RUNS} (run_id, kind, status, os_user, checks, undo_of) VALUES ($1, $2, 'running', $3, $4, $5)`, [run.runId, run.kind, run.osUser ?? null, run.checks, run.undoOf ?? null]);
}

export async function finishRun(client: Queryable, runId: string, status: FixRun['status'], counts: unknown): Promise<void> {
  await client.query(`UPDATE ${RUNS} SET status = $2, finished_at = clock_timestamp(), counts = $3 WHERE run_id = $1`, [runId, status, JSON.stringify(counts)]);
}

function toRun(r: any): FixRun {
  return {
    runId: r.run_id, kind: r.kind, status: r.status, undoOf: r.undo_of, undoneBy: r.undone_by, dbUser: r.db_user, osUser: r.os_user,
    applicationName: r.application_name, startedAt: new Date(r.started_at).toISOString(), finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    checks: r.checks, counts: r.counts, quarantinedRows: Number(r.quarantined),
  };
}

const SELECT_RUNS = `SELECT r.*, (SELECT count(*) FROM ${ROWS} q WHERE q.run_id = r.run_id) AS quarantined FROM ${RUNS} r`;

export async function listRuns(client: Queryable, limit: number): Promise<FixRun[]> {
  if (!(await quarantineExists(client))) return [];
  const { rows } = await client.query(`${SELECT_RUNS} ORDER BY r.started_at DESC, r.run_id LIMIT $1`, [limit]);
  return rows.map(toRun);
}

export async function getRun(client: Queryable, runId: string, forUpdate = false): Promise<FixRun> {
  const notFound = () => new NotFoundError('fix_run', `no fix run ${runId}`, { hint: 'list runs with axisor-db fix --history' });
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(runId)) throw notFound();
  if (!(await quarantineExists(client))) throw notFound();
  const { rows } = await client.query(`${SELECT_RUNS} WHERE r.run_id = $1${forUpdate ? ' FOR UPDATE OF r' : ''}`, [runId]);
  if (!rows.length) throw notFound();
  return toRun(rows[0]);
}
