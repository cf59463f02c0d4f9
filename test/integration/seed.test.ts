import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffCatalogs, readCatalog } from '../../src/data/catalog.ts';
import { ExitCode } from '../../src/errors.ts';
import { seedDatabase, type SeedOptions } from '../../src/seed/index.ts';
import { createTestDatabase, query, serviceContextFor, type TestDatabase } from '../helpers/db.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { expectedCatalog } from '../helpers/prisma-model.ts';
import { createMigratedDatabase, MIGRATIONS_DIR } from '../helpers/schema.ts';
import type { SeedResult } from '../helpers/results.ts';
import { rejection, waitFor } from '../helpers/wait.ts';

const TABLES = ['User', 'UserPreferences', 'RefreshToken', 'UserExchangeAccount', 'Automation', 'MarginGuardConfig', 'TradeLog', 'Notification',
  'NotificationDelivery', 'NotificationTemplate', 'Payment', 'Simulation', 'SimulationResult'];
// Odd trade count: the last position of every user stays open.
const SMALL: SeedOptions = { users: 40, tradesPerUser: 25, automationsPerUser: 3, seed: 7 };

let a: TestDatabase;
let b: TestDatabase;

beforeAll(async () => {
  [a, b] = await Promise.all([createMigratedDatabase('seed_a'), createMigratedDatabase('seed_b')]);
});
afterAll(async () => {
  await Promise.all([a?.drop(), b?.drop()]);
});

/** md5 of every table's rows in id order, as text: equal hashes = identical data, ids and timestamps included. */
async function tableHashes(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of TABLES) {
    const [r] = await query(url, `SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) AS h, count(*)::int AS n FROM "${t}" t`);
    out[t] = `${r!.n}:${r!.h}`;
  }
  return out;
}

async function catalogOf(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await readCatalog(c, 'public');
  } finally {
    await c.end();
  }
}


describe('seedDatabase', () => {
  test('the same --seed gives identical data in two databases, and the bulk path leaves the schema exactly as migrated', async () => {
    const before = await catalogOf(a.url);
    const [ra, rb] = await Promise.all([seedDatabase(SMALL, serviceContextFor(a.url)), seedDatabase(SMALL, serviceContextFor(b.url))]);
    expect(ra.loadPath).toBe('bulk');
    expect(ra.trades.rows).toBe(40 * 25);
    const [ha, hb] = await Promise.all([tableHashes(a.url), tableHashes(b.url)]);
    expect(ha).toEqual(hb);
    for (const t of ra.tables) expect(Number(ha[t.table]!.split(':')[0])).toBe(t.rows);
    expect(Object.values(ha).every((h) => !h.startsWith('0:'))).toBe(true);
    expect(rb.tables.map((t) => t.rows)).toEqual(ra.tables.map((t) => t.rows));
    const after = await catalogOf(a.url);
    expect(diffCatalogs(before, after)).toEqual([]);
    expect(diffCatalogs(expectedCatalog(readFileSync(join(MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8')), after)).toEqual([]);
    const [fk] = await query(a.url, `SELECT count(*) FILTER (WHERE NOT convalidated)::int AS invalid, count(*)::int AS n FROM pg_constraint WHERE contype = 'f'`);
    expect(fk).toEqual({ invalid: 0, n: 18 });
  });

  test('the data follows the business rules', async () => {
    const [r] = await query(a.url, `SELECT
      (SELECT count(*) FROM "Automation" au WHERE au.execution_count <> (SELECT count(*) FROM "TradeLog" t WHERE t.automation_id = au.id))::int AS bad_counts,
      (SELECT count(*) FROM "Automation" au WHERE au.last_executed_at IS DISTINCT FROM (SELECT max(executed_at) FROM "TradeLog" t WHERE t.automation_id = au.id))::int AS bad_last,
      (SELECT count(*) FROM "TradeLog" t JOIN "UserExchangeAccount" x ON x.id = t.exchange_account_id WHERE x.user_id <> t.user_id)::int AS foreign_accounts,
      (SELECT count(*) FROM "TradeLog" t JOIN "Automation" au ON au.id = t.automation_id WHERE au.user_id <> t.user_id)::int AS foreign_automations,
      (SELECT count(*) FROM "User" WHERE plan_type NOT IN ('FREE', 'BASIC', 'ADVANCED', 'PRO', 'LIFETIME'))::int AS bad_plans,
      (SELECT count(*) FROM "Payment" WHERE plan_type NOT IN ('BASIC', 'ADVANCED', 'PRO', 'LIFETIME'))::int AS bad_payment_plans,
      (SELECT count(*) FROM "TradeLog" WHERE executed_at >= '2025-06-30' OR size <= 0 OR price NOT BETWEEN 10000 AND 200000)::int AS bad_trades,
      (SELECT count(*) FROM "TradeLog" WHERE type = 'OPEN' AND pnl IS NOT NULL)::int AS opens_with_pnl,
      (SELECT count(*) FROM "User" u WHERE NOT EXISTS (SELECT 1 FROM "UserPreferences" p WHERE p.user_id = u.id)
                                        OR NOT EXISTS (SELECT 1 FROM "MarginGuardConfig" m WHERE m.user_id = u.id AND m.exchange_account_id IS NULL)
                                        OR NOT EXISTS (SELECT 1 FROM "Notification" n WHERE n.user_id = u.id AND n.type = 'WELCOME'))::int AS incomplete_users,
      (SELECT count(*) FROM "Notification" n WHERE NOT EXISTS (SELECT 1 FROM "NotificationTemplate" nt WHERE nt.id = n.template_id))::int AS unknown_templates,
      (SELECT count(DISTINCT type) FROM "TradeLog")::int AS trade_types,
      (SELECT count(*) FROM "TradeLog" WHERE automation_id IS NOT NULL)::int AS automated`);
    expect(r).toMatchObject({ bad_counts: 0, bad_last: 0, foreign_accounts: 0, foreign_automations: 0, bad_plans: 0, bad_payment_plans: 0, bad_trades: 0, opens_with_pnl: 0, incomplete_users: 0, unknown_templates: 0, trade_types: 2 });
    expect(r!.automated).toBeGreaterThan(0);
  });

  test('a non-empty database is refused (exit 77) and left unchanged; --append with a new seed adds; the same seed again is refused', async () => {
    const before = await tableHashes(b.url);
    const refused = await rejection(seedDatabase({ ...SMALL, seed: 8 }, serviceContextFor(b.url)));
    expect([refused.code, refused.exitCode]).toEqual(['refused.not_empty', ExitCode.REFUSED]);
    expect(await tableHashes(b.url)).toEqual(before);
    const again = await rejection(seedDatabase({ ...SMALL, mode: 'append' }, serviceContextFor(b.url)));
    expect([again.code, again.exitCode]).toEqual(['refused.seed_present', ExitCode.REFUSED]);
    const r = await seedDatabase({ ...SMALL, users: 5, seed: 8, mode: 'append' }, serviceContextFor(b.url));
    expect(r.loadPath).toBe('constrained');
    const [n] = await query(b.url, `SELECT count(*)::int AS users, (SELECT count(*) FROM "TradeLog")::int AS trades FROM "User"`);
    expect(n).toEqual({ users: 45, trades: 45 * 25 });
  });

  test('--truncate replaces the data; a different seed gives different data', async () => {
    const before = await tableHashes(b.url);
    await seedDatabase({ ...SMALL, seed: 9, mode: 'truncate' }, serviceContextFor(b.url));
    const after = await tableHashes(b.url);
    expect(after.User).not.toEqual(before.User);
    expect(after.TradeLog!.startsWith(`${40 * 25}:`)).toBe(true);
  });

  test('an interrupted seed leaves nothing behind: no rows, and the dropped indexes and foreign keys are back', async () => {
    const fresh = await createMigratedDatabase('seed_abort');
    try {
      const ac = new AbortController();
      const err = await rejection(seedDatabase(SMALL, serviceContextFor(fresh.url, {
        signal: ac.signal,
        onProgress: (e) => {
          if (e.phase === 'copy' && e.message === 'Notification') ac.abort();
        },
      })));
      expect(err.exitCode).toBe(ExitCode.ABORTED);
      const [r] = await query(fresh.url, `SELECT (SELECT count(*) FROM "User")::int + (SELECT count(*) FROM "Notification")::int AS n`);
      expect(r!.n).toBe(0);
      expect(diffCatalogs(await catalogOf(a.url), await catalogOf(fresh.url))).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });

  test('bad options are usage errors (exit 64) before anything is touched', async () => {
    const err = await rejection(seedDatabase({ users: 0 }, serviceContextFor(a.url)));
    expect(err.exitCode).toBe(ExitCode.USAGE);
  });
});

describe('axisor-db seed (CLI)', () => {
  test('--json result, then refusal with exit 77 on the now non-empty database', async () => {
    const db = await createMigratedDatabase('seed_cli');
    try {
      const ok = await runCli<SeedResult>(['seed', '--database-url', db.url, '--users', '12', '--trades-per-user', '4', '--seed', '5', '--json']);
      expect(ok.exitCode).toBe(0);
      // The built CLI generates in a worker thread, the library under Jest inline: same bytes either way.
      expect(ok.json.result.generator).toBe('thread');
      const inline = await createMigratedDatabase('seed_inline');
      try {
        const r = await seedDatabase({ users: 12, tradesPerUser: 4, seed: 5 }, serviceContextFor(inline.url));
        expect(r.generator).toBe('inline');
        expect(await tableHashes(inline.url)).toEqual(await tableHashes(db.url));
      } finally {
        await inline.drop();
      }
      expect(ok.json.result.trades.rows).toBe(48);
      // ANALYZE ran on every table (over one or two sessions), after the commit.
      expect(ok.json.result.phases.analyzeSessions).toBeGreaterThanOrEqual(1);
      expect(ok.json.result.phases.copyMs).toBeGreaterThan(0);
      const [{ n: analyzed }] = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM pg_stat_user_tables WHERE relname = ANY($1) AND last_analyze IS NOT NULL`, [TABLES]);
      expect(analyzed).toBe(TABLES.length);
      expect(ok.json.result.tables.find((t) => t.table === 'User')!.rows).toBe(12);
      const refused = await runCli(['seed', '--database-url', db.url, '--users', '12', '--json']);
      expect(refused.exitCode).toBe(ExitCode.REFUSED);
      expect(refused.json.error.code).toBe('refused.not_empty');
      const both = await runCli(['seed', '--database-url', db.url, '--append', '--truncate']);
      expect(both.exitCode).toBe(ExitCode.USAGE);
    } finally {
      await db.drop();
    }
  });

  test('the built CLI generates in threads, block by block (several blocks per table here): the same bytes as inline generation', async () => {
    const [cli, inline] = await Promise.all([createMigratedDatabase('seed_blocks_cli'), createMigratedDatabase('seed_blocks_inline')]);
    try {
      const opts = { users: 2000, tradesPerUser: 3, seed: 11 };
      const r = await runCli<SeedResult>(['seed', '--database-url', cli.url, '--users', String(opts.users), '--trades-per-user', String(opts.tradesPerUser), '--seed', String(opts.seed), '--json']);
      expect(r.exitCode).toBe(0);
      expect(r.json.result.generator).toBe('thread');
      expect(r.json.result.generatorThreads).toBeGreaterThanOrEqual(1);
      await seedDatabase(opts, serviceContextFor(inline.url));
      const [hc, hi] = await Promise.all([tableHashes(cli.url), tableHashes(inline.url)]);
      expect(hc).toEqual(hi);
      expect(hc.User!.startsWith('2000:')).toBe(true);
      // Same physical order too (blocks are sent in order): the ids in heap order hash alike.
      const heapOrder = async (url: string) => (await query(url, `SELECT md5(string_agg(id, ',' ORDER BY ctid)) AS u, (SELECT md5(string_agg(id, ',' ORDER BY ctid)) FROM "TradeLog") AS t FROM "User"`))[0];
      expect(await heapOrder(cli.url)).toEqual(await heapOrder(inline.url));
    } finally {
      await Promise.all([cli.drop(), inline.drop()]);
    }
  });

  // kill -9 of the CLI (no handler runs): the server rolls the one transaction back when the connection drops.
  test.each([
    ['during the COPY of TradeLog', `query LIKE 'COPY "public"."TradeLog"%'`],
    ['during the rebuild of TradeLog\'s indexes and foreign keys', `(query LIKE 'CREATE INDEX%"TradeLog"%' OR query LIKE 'ALTER TABLE "public"."TradeLog" ADD CONSTRAINT%')`],
  ])('kill -9 %s leaves the database as it was: no rows, every index and validated foreign key in place, and a new seed works', async (_when, where) => {
    const db = await createMigratedDatabase('seed_kill');
    try {
      const before = await catalogOf(db.url);
      const child = spawnCli(['seed', '--database-url', db.url, '--users', '20000', '--trades-per-user', '20', '--json']);
      const pid = await waitFor('the seed to reach that step', async () => {
        if (child.exitCode !== null) throw new Error(`the seed ended first (exit ${child.exitCode})`);
        const [r] = await query<{ pid: number }>(db.url, `SELECT pid FROM pg_stat_activity WHERE application_name = 'axisor-db seed' AND state = 'active' AND ${where}`);
        return r?.pid;
      }, 120_000);
      child.kill('SIGKILL');
      await child;
      await waitFor('the server to end the orphaned session', async () =>
        ((await query(db.url, `SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [pid])).length === 0 ? true : undefined), 120_000);
      const [n] = await query<{ n: number }>(db.url, `SELECT (${TABLES.filter((t) => t !== 'NotificationTemplate').map((t) => `(SELECT count(*) FROM "${t}")`).join(' + ')})::int AS n`);
      expect(n!.n).toBe(0);
      expect(diffCatalogs(before, await catalogOf(db.url))).toEqual([]);
      const [fk] = await query(db.url, `SELECT count(*) FILTER (WHERE NOT convalidated)::int AS invalid, count(*)::int AS n FROM pg_constraint WHERE contype = 'f'`);
      expect(fk).toEqual({ invalid: 0, n: 18 });
      const r = await seedDatabase(SMALL, serviceContextFor(db.url));
      expect(r.loadPath).toBe('bulk');
    } finally {
      await db.drop();
    }
  });

  test('`axisor-db migrate` then `axisor-db seed`: the templates the data migrations wrote do not make the database "non-empty"', async () => {
    const db = await createTestDatabase('seed_after_migrate');
    try {
      const m = await runCli(['migrate', '--database-url', db.url, '--migrations-dir', MIGRATIONS_DIR, '--quiet']);
      expect(m.exitCode).toBe(0);
      const [{ n: templates }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM "NotificationTemplate"');
      expect(templates).toBeGreaterThan(0);
      const r = await runCli<SeedResult>(['seed', '--database-url', db.url, '--users', '10', '--trades-per-user', '3', '--json']);
      expect(r.exitCode).toBe(0);
      expect(r.json.result.loadPath).toBe('bulk');
      // The migrated templates are kept (the seed only adds its own where missing).
      const [{ n: after }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM "NotificationTemplate"');
      expect(after).toBeGreaterThanOrEqual(templates);
      expect((await runCli(['seed', '--database-url', db.url, '--users', '10', '--json'])).exitCode).toBe(ExitCode.REFUSED);
    } finally {
      await db.drop();
    }
  });

  test('an unmigrated database: exit 66 naming `axisor-db migrate`', async () => {
    const { createTestDatabase } = await import('../helpers/db.ts');
    const db = await createTestDatabase('seed_empty');
    try {
      const r = await runCli<SeedResult>(['seed', '--database-url', db.url, '--users', '2']);
      expect(r.exitCode).toBe(ExitCode.NOT_FOUND);
      expect(r.stderr).toContain('axisor-db migrate');
    } finally {
      await db.drop();
    }
  });
});
