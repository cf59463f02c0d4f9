import type pg from 'pg';
import { columnList, qualifiedName, quoteIdent } from '../db/ident.ts';
import { trySavepoint } from '../db/transaction.ts';
import { PrerequisiteError, RefusedError } from '../errors.ts';
import { finishRun, getRun, startRun } from './audit.ts';
import { pkMatch, ROWS, RUNS } from './quarantine.ts';

type Queryable = pg.Client | pg.PoolClient;

export interface UndoStep {
  step: number;
  table: string;
  /** What undo did: re-inserted deleted rows, or restored updated ones. */
  action: 'insert' | 'restore';
  rows: number;
}

export interface UndoOutcome {
  undoneRun: string;
  undoRunId: string;
  steps: UndoStep[];
  /** session_replication_role = replica was used so FK triggers did not refuse re-inserted orphans. */
  replica: boolean;
  /** Said out loud: rows put back with foreign-key checks off may be orphans again (validate lists them). */
  warnings: string[];
}

async function columnsOf(client: Queryable, rel: string): Promise<string[]> {
  const { rows } = await client.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, [rel]);
  return rows.map((r) => r.attname);
}

async function primaryKeyOf(client: Queryable, rel: string): Promise<string[]> {
  const { rows } = await client.query(
    `SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.o`,
    [rel],
  );
  return rows.map((r) => r.attname);
}

/**
 * Puts back exactly what a fix run removed or changed, replaying its steps in reverse inside the caller's
 * transaction. Deleted rows are re-inserted from their jsonb copy. Updated rows are restored only if they still
 * equal what the fix wrote; a row changed since then makes the whole undo refuse (nothing is overwritten).
 * Re-inserted orphans violate their FK by definition, so FK triggers are skipped with
 * session_replication_role = replica (superuser, or PG15+ GRANT SET ON PARAMETER session_replication_role).
 */
export async function undoRun(client: Queryable, runId: string, undoRunId: string, osUser?: string): Promise<UndoOutcome> {
  const run = await getRun(client, runId, true);
  if (run.kind !== 'apply') throw new RefusedError('undo_undo', `run ${runId} is itself an undo`, { hint: 'run axisor-db fix --apply again instead' });
  if (run.status !== 'applied') throw new RefusedError('undo_twice', `run ${runId} was already undone${run.undoneBy ? ` by ${run.undoneBy}` : ''}`, { hint: 'see axisor-db fix --history' });
  await startRun(client, { runId: undoRunId, kind: 'undo', osUser, checks: run.checks, undoOf: runId });
  const { rows: groups } = await client.query(
    `SELECT step, table_schema, table_name, op, count(*) AS n FROM ${ROWS} WHERE run_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY step DESC`,
    [runId],
  );
  let replica = false;
  if (groups.some((g) => g.op === 'delete')) {
    replica = (await trySavepoint(client, 'axisor_replica', () => client.query(`SET LOCAL session_replication_role = replica`))).ok;
  }
  const steps: UndoStep[] = [];
  for (const g of groups) {
    const rel = qualifiedName(g.table_schema, g.table_name);
    const cols = await columnsOf(client, rel);
    const expected = Number(g.n);
    const from = `${ROWS} q CROSS JOIN LATERAL jsonb_populate_record(NULL::${rel}, q.old_row) r WHERE q.run_id = $1 AND q.step = $2`;
    if (g.op === 'delete') {
      const attempt = await trySavepoint(client, 'axisor_undo_step', () =>
        client.query(`INSERT INTO ${rel} (${columnList(cols)}) SELECT ${cols.map((c) => `r.${quoteIdent(c)}`).join(', ')} FROM ${from}`, [runId, g.step]));
      if (!attempt.ok) {
        const err = attempt.error;
        const code = (err as { code?: string }).code;
        if (code === '23503') {
          throw new PrerequisiteError('undo_replica', `undo of ${runId} re-inserts ${g.table_name} rows whose parents are missing, and this role may not set session_replication_role`, {
            hint: 'run the undo as a superuser, or GRANT SET ON PARAMETER session_replication_role TO <role> (PostgreSQL 15+)', cause: err,
          });
        }
        if (code === '23505') {
          throw new RefusedError('undo_conflict', `undo of ${runId}: a ${g.table_name} row with the same key was created after the fix`, { hint: 'remove or rename that row, then undo again', cause: err });
        }
        throw err;
      }
      steps.push({ step: g.step, table: g.table_name, action: 'insert', rows: attempt.value.rowCount ?? 0 });
    } else {
      const pk = await primaryKeyOf(client, rel);
      const res = await client.query(
        `UPDATE ${rel} t SET ${cols.map((c) => `${quoteIdent(c)} = r.${quoteIdent(c)}`).join(', ')} FROM ${from} AND ${pkMatch(pk, 't', 'r')} AND to_jsonb(t) = q.new_row`,
        [runId, g.step],
      );
      if ((res.rowCount ?? 0) !== expected) {
        throw new RefusedError('undo_conflict', `undo of ${runId}: ${expected - (res.rowCount ?? 0)} of ${expected} ${g.table_name} rows were changed after the fix; undo would overwrite those changes`, {
          hint: `compare them with the copies in ${ROWS} (run_id = '${runId}', step = ${g.step})`,
        });
      }
      steps.push({ step: g.step, table: g.table_name, action: 'restore', rows: expected });
    }
  }
  await client.query(`UPDATE ${RUNS} SET status = 'undone', undone_by = $2 WHERE run_id = $1`, [runId, undoRunId]);
  await finishRun(client, undoRunId, 'done', { steps });
  const reinserted = steps.filter((s) => s.action === 'insert' && s.rows > 0);
  const warnings = replica && reinserted.length > 0
    ? [`undo re-inserted ${reinserted.reduce((n, s) => n + s.rows, 0)} row(s) into ${[...new Set(reinserted.map((s) => s.table))].join(', ')} with foreign-key checks off (session_replication_role = replica): rows whose parents are gone are orphans again and violate their foreign keys; \`axisor-db validate\` lists them, and a restore of a backup taken now creates those foreign keys NOT VALID`]
    : [];
  return { undoneRun: runId, undoRunId, steps, replica, warnings };
}
