import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withAdvisoryLock } from '../db/advisory-lock.ts';
import { withClient } from '../db/connect.ts';
import { withTransaction } from '../db/transaction.ts';
import type { ServiceContext } from '../service.ts';
import { AbortedError, UsageError } from '../errors.ts';
import { runChecks } from '../validate/runner.ts';
import { buildChecks, selectChecks, type ValidateOptions } from '../validate/service.ts';
import { finishRun, listRuns, startRun, type FixRun } from './audit.ts';
import { FIX_ACTIONS, fixOrder, runFix, type TableChange } from './fixes.ts';
import { ensureQuarantine, QUARANTINE_SCHEMA } from './quarantine.ts';
import { undoRun, type UndoOutcome } from './undo.ts';

export interface FixOptions {
  checks?: string[];
  tables?: string[];
  apply: boolean;
  batchSize: number;
  samples: number;
  osUser?: string;
  prismaSchema?: ValidateOptions['prismaSchema'];
}

export interface FixCheckReport {
  name: string;
  table: string;
  action: string;
  found: number;
  samples: unknown[];
  changes: TableChange[];
  /** After --apply: failing rows left when the run committed (0 unless rows changed concurrently). */
  remaining?: number;
}

export interface FixReport {
  mode: 'dry-run' | 'apply';
  /** The run id to pass to --undo (apply only; a dry run records nothing). */
  runId: string | null;
  database: string;
  schema: string;
  quarantineSchema: string;
  checks: FixCheckReport[];
  totals: { deleted: number; updated: number };
  durationMs: number;
}

const LOCK_KEY = 'axisor-db fix';
const APP = 'axisor-db fix';

/**
 * Client-side statement so a killed CLI is noticed by the server within a second even while the backend waits
 * on a lock (PG14+; ignored on older servers), and the transaction is rolled back promptly.
 */
async function prepareSession(client: pg.Client): Promise<void> {
  await client.query(`SELECT set_config('client_connection_check_interval', '1000', false) WHERE current_setting('server_version_num')::int >= 140000`);
}

/**
 * All fixes of a run happen in ONE transaction (with batched statements inside it): a run that is killed, times
 * out on a lock or fails leaves the database exactly as before, audit row included, and a rerun starts afresh.
 * The price is that row locks are held until the end of the run. A dry run is the same transaction, rolled back.
 */
export async function fixDatabase(opts: FixOptions, ctx: ServiceContext): Promise<FixReport> {
  const { config } = ctx;
  const started = Date.now();
  return withClient(config, async (client) => {
    await prepareSession(client);
    const set = await buildChecks(client, config.schema, opts.prismaSchema);
    const selected = selectChecks(set.checks, { checks: opts.checks, tables: opts.tables });
    const named = new Set(opts.checks ?? []);
    const unfixable = selected.filter((c) => !c.fix && named.has(c.name));
    if (unfixable.length) {
      throw new UsageError(`no automatic fix for ${unfixable.map((c) => c.name).join(', ')}`, { hint: 'those rows need a human decision: axisor-db validate shows them with the SQL that lists them' });
    }
    const fixable = fixOrder(set.catalog, selected.filter((c) => c.fix));
    const runId = randomUUID();
    const reports: FixCheckReport[] = [];
    let step = 0;
    const body = async (tx: pg.Client | pg.PoolClient) => {
      await ensureQuarantine(tx);
      await startRun(tx, { runId, kind: 'apply', osUser: opts.osUser, checks: fixable.map((c) => c.name) });
      for (const [i, check] of fixable.entries()) {
        if (ctx.signal?.aborted) throw new AbortedError('fix interrupted: rolled back, nothing changed', { hint: 'rerun axisor-db fix' });
        const fixStep = { runId, check: check.name, schema: config.schema, nextStep: () => ++step };
        const outcome = await runFix(tx, fixStep, set.catalog, check, { batchSize: opts.batchSize, samples: opts.samples });
        reports.push({ name: check.name, table: check.table, action: FIX_ACTIONS[check.fix!], ...outcome });
        ctx.onProgress?.({ phase: opts.apply ? 'fix' : 'fix (dry run)', message: check.name, done: i + 1, total: fixable.length, unit: 'items' });
      }
      await finishRun(tx, runId, 'applied', Object.fromEntries(reports.map((r) => [r.name, { found: r.found, changes: r.changes }])));
    };
    // A dry run is the same transaction, rolled back at the end.
    await withAdvisoryLock(client, LOCK_KEY, { timeoutMs: config.lockTimeoutMs, label: 'fix', waitFlag: '--lock-timeout' }, () =>
      withTransaction(client, { isolationLevel: 'read committed', lockTimeoutMs: config.lockTimeoutMs, rollbackAtEnd: !opts.apply }, body));
    const changes = reports.flatMap((r) => r.changes);
    const report: FixReport = {
      mode: opts.apply ? 'apply' : 'dry-run',
      runId: opts.apply ? runId : null,
      database: config.connection.redactedUrl,
      schema: config.schema,
      quarantineSchema: QUARANTINE_SCHEMA,
      checks: reports,
      totals: { deleted: sum(changes, 'delete'), updated: sum(changes, 'update') },
      durationMs: 0,
    };
    if (opts.apply && fixable.length) {
      // Verify: the fixed checks must now pass (they could still fail if rows changed concurrently).
      const after = await runChecks(config, fixable, { samples: 0, jobs: 1, applicationName: APP });
      for (const r of after.results) {
        const rep = reports.find((x) => x.name === r.name)!;
        rep.remaining = r.failures ?? undefined;
      }
    }
    report.durationMs = Date.now() - started;
    return report;
  }, { applicationName: APP });
}

function sum(changes: TableChange[], op: TableChange['op']): number {
  return changes.filter((c) => c.op === op).reduce((a, c) => a + c.rows, 0);
}

export async function undoFix(input: { runId: string; osUser?: string }, ctx: ServiceContext): Promise<UndoOutcome> {
  const { config } = ctx;
  const { runId, osUser } = input;
  return withClient(config, async (client) => {
    await prepareSession(client);
    return withAdvisoryLock(client, LOCK_KEY, { timeoutMs: config.lockTimeoutMs, label: 'fix --undo', waitFlag: '--lock-timeout' }, () =>
      withTransaction(client, { isolationLevel: 'read committed', lockTimeoutMs: config.lockTimeoutMs }, (tx) => undoRun(tx, runId, randomUUID(), osUser)));
  }, { applicationName: `${APP} --undo` });
}

export async function fixHistory(input: { limit: number }, ctx: ServiceContext): Promise<FixRun[]> {
  const { config } = ctx;
  const { limit } = input;
  return withClient(config, (c) => listRuns(c, limit), { applicationName: APP });
}
