import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ExitCode } from '../../src/errors.ts';
import { createAxisorSchema, PLANTED, plantDefects, seedSmall, tableHashes, withPg } from '../helpers/axisor-data.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { createTestDatabase, query, type TestDatabase } from '../helpers/db.ts';
import type { FixHistoryResult, FixReport, UndoOutcome, ValidateListResult, ValidateReport } from '../helpers/results.ts';
import { waitFor } from '../helpers/wait.ts';

let db: TestDatabase;
let before: Record<string, string>;
let fixable: string[];
let runId: string;

const quarantineExists = async () => (await query(db.url, `SELECT to_regnamespace('axisor_quarantine') IS NOT NULL AS ok`))[0].ok;
const fixBackends = (url: string, name: string) => query(url, `SELECT pid, wait_event_type FROM pg_stat_activity WHERE datname = $1 AND application_name = 'axisor-db fix'`, [name]);

beforeAll(async () => {
  db = await createTestDatabase('fix');
  await createAxisorSchema(db.url);
  await seedSmall(db.url);
  await plantDefects(db.url);
  before = await tableHashes(db.url);
  const list = await runCli<ValidateListResult>(['validate', '--list', '--json', '--database-url', db.url]);
  fixable = list.json.result.checks.filter((c) => c.fixable).map((c) => c.name);
});
afterAll(async () => {
  await db?.drop();
});

describe('fix', () => {
  test('without --apply it reports what it would change and changes nothing', async () => {
    const r = await runCli<FixReport>(['fix', '--json', '--database-url', db.url]);
    expect(r.exitCode).toBe(ExitCode.OK);
    expect(r.json.result.mode).toBe('dry-run');
    expect(r.json.result.runId).toBeNull();
    const found = Object.fromEntries(r.json.result.checks.map((c) => [c.name, c.found]));
    expect(found).toEqual(Object.fromEntries(fixable.map((n) => [n, PLANTED[n]?.length ?? 0])));
    // The cascade and SET NULL dependents show up in the plan.
    const notif = r.json.result.checks.find((c) => c.name === 'orphan:Notification.user_id');
    expect(notif!.changes).toEqual(expect.arrayContaining([{ table: 'NotificationDelivery', op: 'delete', rows: 1 }, { table: 'Notification', op: 'delete', rows: 1 }]));
    const auto = r.json.result.checks.find((c) => c.name === 'orphan:Automation.user_id');
    expect(auto!.changes).toEqual(expect.arrayContaining([{ table: 'TradeLog', op: 'update', rows: 1 }, { table: 'Automation', op: 'delete', rows: 1 }]));
    expect(await tableHashes(db.url)).toEqual(before);
    expect(await quarantineExists()).toBe(false);
  });

  test('a check without an automatic fix is a usage error', async () => {
    const r = await runCli<FixReport>(['fix', '--json', '--check', 'invalid_payment_plan_type', '--database-url', db.url]);
    expect(r.exitCode).toBe(ExitCode.USAGE);
  });

  test('--apply killed midway leaves the database as before; a rerun completes', async () => {
    await withPg(db.url, async (locker) => {
      // SHARE blocks the DELETE on Automation, which comes after the leaf-table deletions: the run stops midway.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE "Automation" IN SHARE MODE');
      const child = spawnCli(['fix', '--apply', '--lock-timeout', '60s', '--json', '--database-url', db.url]);
      try {
        const pid = await waitFor('fix to block on the lock', async () => (await fixBackends(db.url, db.name)).find((b) => b.wait_event_type === 'Lock')?.pid);
        // It had already deleted from TradeLog (it holds RowExclusiveLock there) when it blocked.
        const held = await query(db.url, `SELECT 1 FROM pg_locks WHERE pid = $1 AND relation = '"TradeLog"'::regclass AND mode = 'RowExclusiveLock'`, [pid]);
        expect(held.length).toBe(1);
        child.kill('SIGKILL');
        const res = await child;
        expect(res.signal).toBe('SIGKILL');
        expect(await tableHashes(db.url)).toEqual(before);
        expect(await quarantineExists()).toBe(false);
      } finally {
        child.kill('SIGKILL');
        await locker.query('ROLLBACK');
      }
    });
    // The server notices the dead client (client_connection_check_interval) and rolls the transaction back.
    await waitFor('the killed run\'s backend to go', async () => ((await fixBackends(db.url, db.name)).length === 0 ? true : undefined));
    expect(await tableHashes(db.url)).toEqual(before);
    expect(await quarantineExists()).toBe(false);

    // Small batches: several statements per check inside the one transaction.
    const r = await runCli<FixReport>(['fix', '--apply', '--batch-size', '2', '--json', '--database-url', db.url]);
    expect(r.exitCode).toBe(ExitCode.OK);
    runId = r.json.result.runId!;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.json.result.checks.every((c) => c.remaining === 0)).toBe(true);
  });

  test('after --apply, validate passes for every fixed check; nothing was deleted without a copy', async () => {
    const v = await runCli<ValidateReport>(['validate', '--json', '--database-url', db.url]);
    const results = new Map(v.json.result.checks.map((c) => [c.name, c]));
    for (const n of fixable) expect([n, results.get(n)!.status]).toEqual([n, 'pass']);
    // The checks fix leaves to humans still fail.
    expect(results.get('nonpositive_trade_price')!.failures).toBe(2);
    expect(v.exitCode).toBe(ExitCode.CHECK_FAILED);

    const after = await tableHashes(db.url);
    const lost = await query(db.url, `SELECT table_name, op, count(*)::int AS n FROM axisor_quarantine.rows WHERE run_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`, [runId]);
    const counts = await query(db.url, `SELECT 'TradeLog' AS t, count(*)::int AS n FROM "TradeLog" UNION ALL SELECT 'NotificationDelivery', count(*)::int FROM "NotificationDelivery"`);
    const beforeN = (t: string) => Number(before[t].split(':')[0]);
    const deleted = (t: string) => lost.find((l) => l.table_name === t && l.op === 'delete')?.n ?? 0;
    for (const { t, n } of counts) expect(n).toBe(beforeN(t) - deleted(t));
    expect(after.User).not.toEqual(before.User);
    // The cascaded delivery and the SET NULL trade were kept with the run.
    const kept = await query(db.url, `SELECT table_name, op, pk->>'id' AS id FROM axisor_quarantine.rows WHERE run_id = $1 AND pk->>'id' IN ('nd-of-orphan', 't-of-orphan-automation')`, [runId]);
    expect(kept.map((k) => `${k.table_name}:${k.op}:${k.id}`).sort()).toEqual(['NotificationDelivery:delete:nd-of-orphan', 'TradeLog:update:t-of-orphan-automation']);
    const [audit] = await query(db.url, `SELECT kind, status, db_user, os_user, application_name, checks FROM axisor_quarantine.fix_runs WHERE run_id = $1`, [runId]);
    expect(audit).toMatchObject({ kind: 'apply', status: 'applied', db_user: 'postgres', application_name: 'axisor-db fix' });
    expect([...audit.checks].sort()).toEqual([...fixable].sort());
  });

  test('--undo restores the pre-fix table hashes exactly, once', async () => {
    const u = await runCli<UndoOutcome>(['fix', '--undo', runId, '--json', '--database-url', db.url]);
    expect(u.exitCode).toBe(ExitCode.OK);
    expect(u.json.result.replica).toBe(true);
    expect(await tableHashes(db.url)).toEqual(before);
    const [audit] = await query(db.url, `SELECT status, undone_by FROM axisor_quarantine.fix_runs WHERE run_id = $1`, [runId]);
    expect(audit).toEqual({ status: 'undone', undone_by: u.json.result.undoRunId });
    const again = await runCli(['fix', '--undo', runId, '--json', '--database-url', db.url]);
    expect(again.exitCode).toBe(ExitCode.REFUSED);
    expect((await runCli(['fix', '--undo', randomUUID(), '--json', '--database-url', db.url])).exitCode).toBe(ExitCode.NOT_FOUND);
    const h = await runCli<FixHistoryResult>(['fix', '--history', '--json', '--database-url', db.url]);
    expect(h.json.result.runs.map((r) => [r.kind, r.status])).toEqual([['undo', 'done'], ['apply', 'undone']]);
  });

  test('undo refuses to overwrite a row changed after the fix', async () => {
    const r = await runCli<FixReport>(['fix', '--apply', '--json', '--check', 'invalid_plan_type', '--database-url', db.url]);
    expect(r.exitCode).toBe(ExitCode.OK);
    await query(db.url, `UPDATE "User" SET plan_type = 'PRO' WHERE id = 'u11'`);
    const snapshot = await tableHashes(db.url);
    const u = await runCli<UndoOutcome>(['fix', '--undo', r.json.result.runId!, '--json', '--database-url', db.url]);
    expect(u.exitCode).toBe(ExitCode.REFUSED);
    expect(await tableHashes(db.url)).toEqual(snapshot);
  });
});
