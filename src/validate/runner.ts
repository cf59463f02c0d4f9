import { isPrivilegeFailure, toPrivilegeError } from '../db/privilege.ts';
import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import { connectClient } from '../db/connect.ts';
import { trySavepoint, withTransaction } from '../db/transaction.ts';
import { toDatabaseError } from '../db/errors.ts';
import { AbortedError } from '../errors.ts';
import type { ProgressFn } from '../progress.ts';
import type { Check } from './checks.ts';
import type { CheckResult } from './report.ts';
import { planUnits, type Unit } from './scan-sql.ts';

export interface RunOptions {
  samples: number;
  /** Connections sharing one exported snapshot. 1 = a single REPEATABLE READ transaction. */
  jobs: number;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  applicationName?: string;
}

const SNAPSHOT_TX = { isolationLevel: 'repeatable read', readOnly: true, rollbackAtEnd: true, mapErrors: false } as const;

/**
 * Runs every check against one consistent snapshot. With jobs > 1 the first connection exports its snapshot
 * (pg_export_snapshot) and the others adopt it (withTransaction's `snapshot`), so parallel workers still see the
 * same data. Each unit runs under a savepoint: a unit that fails (statement_timeout, permissions) is reported
 * as an error for its checks, and the others still run in the same snapshot.
 */
export async function runChecks(config: AxisorConfig, checks: Check[], opts: RunOptions): Promise<{ results: CheckResult[]; snapshotAt: string }> {
  const units = planUnits(config.schema, checks);
  const clients: pg.Client[] = [];
  const results = new Map<string, CheckResult>();
  try {
    const first = await connectClient(config, { applicationName: opts.applicationName });
    clients.push(first);
    // Read-only: rolling back at the end is the same as committing.
    return await withTransaction(first, SNAPSHOT_TX, async () => {
      const { rows: [info] } = await first.query(`SELECT now() AS at, CASE WHEN $1::int > 1 THEN pg_export_snapshot() END AS snapshot`, [Math.min(opts.jobs, units.length)]);
      // Largest tables first, so parallel workers finish together.
      const order = await orderBySize(first, config.schema, units);
      const jobs = Math.max(1, Math.min(opts.jobs, order.length));
      for (let i = 1; i < jobs; i++) clients.push(await connectClient(config, { applicationName: opts.applicationName }));
      let next = 0;
      let done = 0;
      const worker = async (client: pg.Client) => {
        for (;;) {
          if (opts.signal?.aborted) throw new AbortedError('validate interrupted', { hint: 'rerun; nothing was changed' });
          const unit = order[next++];
          if (!unit) return;
          for (const r of await runUnit(client, unit, opts.samples, config.schema)) results.set(r.name, r);
          opts.onProgress?.({ phase: 'validate', message: unit.table, done: ++done, total: order.length, unit: 'items' });
        }
      };
      // Each helper adopts the snapshot in turn (nested, so every transaction is open before any unit runs).
      const adoptFrom = async (i: number): Promise<unknown> => i >= clients.length
        ? Promise.all(clients.map(worker))
        : withTransaction(clients[i]!, { ...SNAPSHOT_TX, snapshot: String(info.snapshot) }, () => adoptFrom(i + 1));
      await adoptFrom(1);
      return { results: checks.map((c) => results.get(c.name)!), snapshotAt: new Date(info.at).toISOString() };
    });
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

async function orderBySize(client: pg.Client, schema: string, units: Unit[]): Promise<Unit[]> {
  const { rows } = await client.query(
    // relpages, not pg_relation_size(): the latter takes a lock and would wait behind an ALTER on the table.
    `SELECT c.relname, c.relpages AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`,
    [schema],
  );
  const size = new Map<string, number>(rows.map((r) => [r.relname, Number(r.bytes)]));
  // Set checks on Automation scan TradeLog too: weigh a unit by the largest table its SQL names.
  const weight = (u: Unit) => Math.max(...[...size.entries()].filter(([t]) => u.sql.includes(`."${t.replace(/"/g, '""')}"`)).map(([, b]) => b), 0);
  return [...units].sort((a, b) => weight(b) - weight(a));
}

async function runUnit(client: pg.Client, unit: Unit, samples: number, schema: string): Promise<CheckResult[]> {
  const started = Date.now();
  const attempt = await trySavepoint(client, 'axisor_unit', async () => (await client.query(unit.sql, [samples])).rows[0]);
  if (attempt.ok) {
    const row = attempt.value;
    const ms = Date.now() - started;
    return unit.checks.map((c, i) => {
      const failures = Number(row[`n${i}`]);
      return result(c, failures === 0 ? 'pass' : 'fail', failures, (row[`s${i}`] ?? []).slice(0, samples), ms);
    });
  }
  const err = attempt.error;
  // A table the role may not read is a missing grant (exit 67 for the run), named with the exact GRANT.
  const denied = isPrivilegeFailure(err)
    ? toPrivilegeError(err, { role: (await client.query('SELECT current_user AS u')).rows[0].u, schema, action: `run ${unit.checks.map((c) => c.name).join(', ')}` })
    : null;
  const e = denied ?? toDatabaseError(err);
  const message = denied ? `${denied.message}; ${denied.hint}` : e.message;
  return unit.checks.map((c) => ({ ...result(c, 'error', null, [], Date.now() - started), error: { code: e.code, sqlState: (err as { code?: string }).code, message } }));
}

function result(c: Check, status: CheckResult['status'], failures: number | null, samples: unknown[], ms: number): CheckResult {
  return {
    name: c.name, table: c.table, kind: c.kind, severity: c.severity, description: c.description,
    status, failures, samples, sql: c.sql, fixable: c.fix !== undefined, unitMs: ms,
  };
}
