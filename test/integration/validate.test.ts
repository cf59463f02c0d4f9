import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ExitCode } from '../../src/errors.ts';
import { createAxisorSchema, PLANTED, plantDefects, seedSmall, withPg } from '../helpers/axisor-data.ts';
import { runCli, type CliDocument, type CliResult } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import type { ValidateReport } from '../helpers/results.ts';

let db: TestDatabase;
let clean: CliResult<ValidateReport>;
let dirty: CliResult<ValidateReport>;

beforeAll(async () => {
  db = await createTestDatabase('validate');
  await createAxisorSchema(db.url);
  await seedSmall(db.url);
  clean = await runCli<ValidateReport>(['validate', '--json', '--database-url', db.url]);
  await plantDefects(db.url);
  dirty = await runCli<ValidateReport>(['validate', '--json', '--samples', '3', '--database-url', db.url]);
});
afterAll(async () => {
  await db?.drop();
});

const byName = (doc: CliDocument<ValidateReport>) => new Map(doc.result.checks.map((c) => [c.name, c]));

describe('validate on a seeded database', () => {
  test('a clean database passes every check and exits 0', () => {
    expect(clean.exitCode).toBe(ExitCode.OK);
    expect(clean.json.ok).toBe(true);
    expect(clean.json.result.summary.errors).toBe(0);
    expect(clean.json.result.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(clean.json.result.skipped).toEqual([]);
  });

  test('a database filled by `axisor-db seed` passes too (exit 0)', async () => {
    const d = await createTestDatabase('validate_seeded');
    try {
      await createAxisorSchema(d.url);
      const seeded = await runCli(['seed', '--users', '50', '--json', '--database-url', d.url]);
      expect(seeded.exitCode).toBe(ExitCode.OK);
      const r = await runCli<ValidateReport>(['validate', '--json', '--database-url', d.url]);
      expect(r.json.result.checks.filter((c) => c.status !== 'pass')).toEqual([]);
      expect(r.exitCode).toBe(ExitCode.OK);
    } finally {
      await d.drop();
    }
  });

  test('planted defects: exit 2 and exactly the planted count per check', () => {
    expect(dirty.exitCode).toBe(ExitCode.CHECK_FAILED);
    expect(dirty.json.exitCode).toBe(2);
    const counts = Object.fromEntries(dirty.json.result.checks.map((c) => [c.name, c.failures]));
    const expected = Object.fromEntries(dirty.json.result.checks.map((c) => [c.name, PLANTED[c.name]?.length ?? 0]));
    expect(counts).toEqual(expected);
    // Every planted kind has a check that ran.
    for (const name of Object.keys(PLANTED)) expect(counts[name]).toBeGreaterThan(0);
  });

  test('sample keys are failing rows, at most --samples of them', () => {
    for (const c of dirty.json.result.checks) {
      const planted = PLANTED[c.name] ?? [];
      expect(c.samples.length).toBe(Math.min(3, planted.length));
      for (const key of c.samples) expect(planted).toContain(key);
    }
  });

  test('each check\'s SQL returns exactly the failing rows', async () => {
    await withPg(db.url, async (pg) => {
      for (const c of dirty.json.result.checks) {
        const { rows } = await pg.query(c.sql);
        expect({ name: c.name, ids: rows.map((r) => r.id).sort() }).toEqual({ name: c.name, ids: [...(PLANTED[c.name] ?? [])].sort() });
      }
    });
  });

  test('severities: future trades, early notifications and tokens of inactive users are warnings', () => {
    const m = byName(dirty.json);
    expect(['future_executed_at', 'notification_sent_before_created', 'valid_token_of_inactive_user'].map((n) => m.get(n)!.severity)).toEqual(['warn', 'warn', 'warn']);
    expect(m.get('negative_trade_size')!.severity).toBe('error');
    expect(dirty.json.result.summary.warnings).toBe(3);
  });

  test('--jobs 2 (exported snapshot) reports the same results', async () => {
    const r = await runCli<ValidateReport>(['validate', '--json', '--samples', '3', '--jobs', '2', '--database-url', db.url]);
    expect(r.exitCode).toBe(ExitCode.CHECK_FAILED);
    const pick = (doc: CliDocument<ValidateReport>) => doc.result.checks.map((c) => [c.name, c.failures, [...c.samples].sort()]);
    expect(pick(r.json)).toEqual(pick(dirty.json));
  });

  test('--check and --table select checks; warnings only exit 1', async () => {
    const w = await runCli<ValidateReport>(['validate', '--json', '--check', 'future_executed_at', '--check', 'notification_sent_before_created', '--database-url', db.url]);
    expect(w.exitCode).toBe(ExitCode.WARNINGS);
    expect(w.json.result.checks.map((c) => c.name).sort()).toEqual(['future_executed_at', 'notification_sent_before_created']);
    const t = await runCli<ValidateReport>(['validate', '--json', '--table', 'Payment', '--database-url', db.url]);
    expect(t.json.result.checks.map((c) => c.name).sort()).toEqual(['invalid_payment_plan_type', 'orphan:Payment.user_id']);
    const p = await runCli<ValidateReport>(['validate', '--json', '--check', 'orphan:Notification.*', '--database-url', db.url]);
    expect(p.json.result.checks.length).toBe(3);
  });

  test('an unknown check or table is a usage error (64)', async () => {
    expect((await runCli(['validate', '--json', '--check', 'no_such_check', '--database-url', db.url])).exitCode).toBe(ExitCode.USAGE);
    expect((await runCli(['validate', '--table', 'Nope', '--database-url', db.url])).exitCode).toBe(ExitCode.USAGE);
  });

  test('a check that cannot finish within --statement-timeout is reported as not run (71), the others still run', async () => {
    // A lock held elsewhere makes only the Payment scan wait; statement_timeout ends it.
    await withPg(db.url, async (locker) => {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE "Payment" IN ACCESS EXCLUSIVE MODE');
      try {
        const r = await runCli<ValidateReport>(['validate', '--json', '--table', 'Payment', '--table', 'User', '--statement-timeout', '300ms', '--database-url', db.url]);
        expect(r.exitCode).toBe(ExitCode.DATABASE);
        const m = byName(r.json);
        expect(m.get('invalid_payment_plan_type')!.status).toBe('error');
        expect(m.get('invalid_payment_plan_type')!.error!.sqlState).toBe('57014');
        expect(m.get('invalid_plan_type')!.failures).toBe(2);
      } finally {
        await locker.query('ROLLBACK');
      }
    });
  });

  test('the human view is a table naming failing checks and their SQL', async () => {
    const r = await runCli<ValidateReport>(['validate', '--check', 'negative_trade_size', '--database-url', db.url]);
    expect(r.exitCode).toBe(ExitCode.CHECK_FAILED);
    expect(r.stdout).toContain('negative_trade_size');
    expect(r.stdout).toContain('SELECT t."id", t."size" FROM "public"."TradeLog" t WHERE t."size" < 0;');
  });

  test('--amcheck verifies heaps and btree indexes', async () => {
    const r = await runCli<ValidateReport>(['validate', '--json', '--amcheck', '--table', 'TradeLog', '--database-url', db.url]);
    const physical = r.json.result.checks.filter((c) => c.kind === 'physical');
    // TradeLog's heap plus its 6 btree indexes (PK + 5 FK indexes).
    expect(physical.length).toBe(7);
    expect(physical.every((c) => c.status === 'pass')).toBe(true);
  });
});
