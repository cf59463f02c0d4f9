import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type pg from 'pg';
import { connectClient } from '../../src/db/connect.ts';
import { ExitCode, type AxisorError } from '../../src/errors.ts';
import { DATA_MIGRATIONS } from '../../src/migrate/data/registry.ts';
import { applyDataMigrations, dataStatus } from '../../src/migrate/data/run.ts';
import type { DataMigration } from '../../src/migrate/data/types.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase, query, type TestDatabase } from '../helpers/db.ts';
import { REAL_MIGRATIONS } from '../helpers/migrations.ts';
import type { MigrateStatusResult, MigrateUpResult } from '../helpers/results.ts';

const INIT = '20250126000000_init';
const [prefs, conditions, templates] = DATA_MIGRATIONS as [DataMigration, DataMigration, DataMigration];
const ctx = (batchSize: number) => ({ schema: 'public', batchSize });

/** A real client whose query() records how many rows each result brought into Node. */
function countingClient(client: pg.Client) {
  const stats = { queries: 0, maxRowsPerQuery: 0, rowsTotal: 0 };
  const proxy = new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') {
        return async (...args: unknown[]) => {
          const r = await (target.query as (...a: unknown[]) => Promise<pg.QueryResult>)(...args);
          stats.queries++;
          const n = Array.isArray(r?.rows) ? r.rows.length : 0;
          stats.maxRowsPerQuery = Math.max(stats.maxRowsPerQuery, n);
          stats.rowsTotal += n;
          return r;
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { client: proxy, stats };
}

let db: TestDatabase;
let client: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase('mig_data');
  await query(db.url, await readFile(join(REAL_MIGRATIONS, INIT, 'migration.sql'), 'utf8'));
  client = await connectClient(db.connection);
});
afterAll(async () => {
  await client?.end().catch(() => {});
  await db?.drop();
});

describe('migrate_user_preferences over 200k users', () => {
  test('runs in keyset batches: never more than one summary row per batch reaches Node, pre-existing rows untouched', async () => {
    await query(db.url, `INSERT INTO "User" (email) SELECT 'user' || g || '@example.test' FROM generate_series(1, 200000) g`);
    // 10% already have (non-default) preferences.
    await query(db.url, `INSERT INTO "UserPreferences" (user_id, theme) SELECT id FROM "User" ORDER BY email LIMIT 20000`.replace('SELECT id', `SELECT id, 'DARK'`));
    expect(await prefs.countPending(client, ctx(5000))).toBe(180000);

    const { client: counted, stats } = countingClient(client);
    const heapBefore = process.memoryUsage().heapUsed;
    const [done] = await applyDataMigrations(counted, [prefs], await dataStatus(client, 'public', [prefs]), ctx(5000));
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    expect(done).toMatchObject({ version: 1, rowsChanged: 180000, rowsScanned: 200000, batches: 40 });
    // Memory is bounded by design: each batch is one set-based statement returning ONE row. Loading the users
    // (the design's findMany) would bring 180000 rows into Node; this brought at most 1 per query.
    expect(stats.maxRowsPerQuery).toBeLessThanOrEqual(1);
    expect(stats.rowsTotal).toBeLessThan(100);
    expect(stats.queries).toBeLessThan(60);
    // Reported, not asserted tightly (GC timing): 180k user rows would be tens of MB.
    console.log(`backfill: ${stats.queries} queries, ${stats.rowsTotal} rows into Node, heap growth ${(heapGrowth / 1e6).toFixed(1)} MB`);

    expect(await query(db.url, `SELECT count(*)::int AS users, count(p.id)::int AS with_prefs, count(DISTINCT p.user_id)::int AS distinct_prefs,
      count(*) FILTER (WHERE p.theme = 'DARK')::int AS dark FROM "User" u LEFT JOIN "UserPreferences" p ON p.user_id = u.id`))
      .toEqual([{ users: 200000, with_prefs: 200000, distinct_prefs: 200000, dark: 20000 }]);
    const [row] = await query(db.url, 'SELECT version, name, checksum, duration_ms, rows_changed, finished_at >= started_at AS ordered FROM axisor_data_migrations');
    expect(row).toMatchObject({ version: 1, name: 'migrate_user_preferences', rows_changed: 180000, ordered: true });
    expect(row!.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(await prefs.countPending(client, ctx(5000))).toBe(0);
  });
});

describe('automation conditions and notification templates', () => {
  test('legacy {"old_format": ...} conditions are flattened to format_version 2; others untouched; batches of 2', async () => {
    const [{ id: user }] = await query(db.url, `SELECT id FROM "User" LIMIT 1`);
    const cases: Array<[string, unknown, unknown]> = [
      ['a1', { old_format: { trigger: 'price_below', value: 50000 }, symbol: 'BTCUSD' }, { trigger: 'price_below', value: 50000, symbol: 'BTCUSD', format_version: 2 }],
      ['a2', { old_format: { symbol: 'ETHUSD', x: 1 }, symbol: 'BTCUSD' }, { symbol: 'BTCUSD', x: 1, format_version: 2 }],
      ['a3', { old_format: [{ above: 1 }] }, { rules: [{ above: 1 }], format_version: 2 }],
      ['a4', { old_format: null, k: 1 }, { old_format: null, k: 1 }],
      ['a5', { trigger: 'x' }, { trigger: 'x' }],
    ];
    for (const [id, c] of cases) {
      await query(db.url, `INSERT INTO "Automation" (id, user_id, type, name, conditions, updated_at) VALUES ($1, $2, 'STOP_LOSS', $1, $3, '2020-01-01')`, [id, user, JSON.stringify(c)]);
    }
    const [done] = await applyDataMigrations(client, [conditions], await dataStatus(client, 'public', [conditions]), ctx(2));
    expect(done).toMatchObject({ rowsChanged: 3, rowsScanned: 5, batches: 3 });
    const rows = await query(db.url, `SELECT id, conditions, updated_at > '2020-01-02' AS bumped FROM "Automation" ORDER BY id`);
    expect(rows.map((r) => [r.id, r.conditions, r.bumped])).toEqual(cases.map(([id, , after], i) => [id, after, i < 3]));
  });

  test('templates: missing ones inserted, changed ones restored, identical ones left alone', async () => {
    await query(db.url, `INSERT INTO "NotificationTemplate" (id, name, subject, content, type, language, updated_at) VALUES
      ('welcome_template', 'Welcome Template', 'OLD SUBJECT', 'x', 'WELCOME', 'en-US', '2020-01-01'),
      ('trade_opened_template', 'Trade Opened Template', 'Trade Opened - {{symbol}}', 'A new {{type}} position has been opened for {{symbol}} at {{price}}.', 'TRADE_OPENED', 'en-US', '2020-01-01')`);
    expect(await templates.countPending(client, ctx(1))).toBe(2);
    const [done] = await applyDataMigrations(client, [templates], await dataStatus(client, 'public', [templates]), ctx(1));
    expect(done!.rowsChanged).toBe(2);
    const rows = await query(db.url, `SELECT id, subject, updated_at > '2020-01-02' AS bumped FROM "NotificationTemplate" ORDER BY id`);
    expect(rows).toEqual([
      { id: 'trade_closed_template', subject: 'Trade Closed - {{symbol}}', bumped: true },
      { id: 'trade_opened_template', subject: 'Trade Opened - {{symbol}}', bumped: false },
      { id: 'welcome_template', subject: 'Welcome to Axisor!', bumped: true },
    ]);
  });

  test('a data migration that fails rolls back its changes together with its history row', async () => {
    const failing: DataMigration = {
      ...templates, version: 40, name: 'fails_after_writing', definition: 'x', requiresTables: ['NotificationTemplate'],
      async up(c) {
        await c.query(`INSERT INTO "NotificationTemplate" (id, name, subject, content, type) VALUES ('tmp', 'n', 's', 'c', 'SYSTEM')`);
        await c.query('SELECT 1/0');
        return { rowsChanged: 1, rowsScanned: 0, batches: 1 };
      },
    };
    const err = await applyDataMigrations(client, [failing], await dataStatus(client, 'public', [failing]), ctx(1)).catch((e: AxisorError) => e);
    expect((err as AxisorError).exitCode).toBe(ExitCode.DATABASE);
    expect((err as AxisorError).code).toBe('database.22012');
    expect(await query(db.url, `SELECT count(*)::int AS n FROM "NotificationTemplate" WHERE id = 'tmp'`)).toEqual([{ n: 0 }]);
    expect(await query(db.url, `SELECT count(*)::int AS n FROM axisor_data_migrations WHERE version = 40`)).toEqual([{ n: 0 }]);
  });

  test('versions run in numeric order (9 before 10), each recorded once', async () => {
    await query(db.url, 'CREATE TABLE order_log (seq serial, version int)');
    const logging = (version: number): DataMigration => ({
      ...templates, version, name: `log_${version}`, definition: `log ${version}`, requiresTables: [],
      async up(c) {
        await c.query('INSERT INTO order_log (version) VALUES ($1)', [version]);
        return { rowsChanged: 1, rowsScanned: 0, batches: 1 };
      },
    });
    const list = [logging(10), logging(9), logging(100)];
    await applyDataMigrations(client, list, await dataStatus(client, 'public', list), ctx(1));
    expect((await query(db.url, 'SELECT version FROM order_log ORDER BY seq')).map((r) => r.version)).toEqual([9, 10, 100]);
    expect((await dataStatus(client, 'public', list)).map((s) => s.state)).toEqual(['applied', 'applied', 'applied']);
  });
});

describe('through the CLI against the real prisma/migrations', () => {
  let cliDb: TestDatabase;
  beforeAll(async () => {
    cliDb = await createTestDatabase('mig_data_cli');
  });
  afterAll(async () => {
    await cliDb?.drop();
  });
  const cli = <R = MigrateUpResult>(...args: string[]) => runCli<R>(['migrate', ...args, '--database-url', cliDb.url, '--migrations-dir', REAL_MIGRATIONS]);

  test('dry run counts the rows, migrate --batch-size backfills in batches, status is clean; an edited data migration is drift', async () => {
    // Schema first (as a deploy of an earlier release would have), then users arrive, then this release's migrate.
    await query(cliDb.url, await readFile(join(REAL_MIGRATIONS, INIT, 'migration.sql'), 'utf8'));
    expect((await cli('resolve', '--applied', INIT)).exitCode).toBe(0);
    await query(cliDb.url, `INSERT INTO "User" (email) SELECT 'u' || g || '@example.test' FROM generate_series(1, 2500) g`);
    expect((await cli('status')).exitCode).toBe(2);

    const dry = await cli('--dry-run', '--json');
    expect(dry.json.result.dataMigrations.planned.map((p) => [p.version, p.rowsToChange])).toEqual([[1, 2500], [2, 0], [3, 3]]);
    expect(await query(cliDb.url, `SELECT to_regclass('axisor_data_migrations') AS t`)).toEqual([{ t: null }]);

    const r = await cli('--batch-size', '1000', '--json');
    expect(r.exitCode).toBe(0);
    expect(r.json.result.dataMigrations.applied.map((a) => [a.version, a.rowsChanged, a.batches])).toEqual([[1, 2500, 3], [2, 0, 0], [3, 3, 1]]);
    expect(await query(cliDb.url, 'SELECT count(*)::int AS n FROM "UserPreferences"')).toEqual([{ n: 2500 }]);
    expect((await cli('status')).exitCode).toBe(0);

    await query(cliDb.url, `UPDATE axisor_data_migrations SET checksum = repeat('0', 64) WHERE version = 3`);
    const status = await cli<MigrateStatusResult>('status', '--json');
    expect(status.exitCode).toBe(8);
    expect(status.json.result.dataMigrations.find((d) => d.version === 3)!.state).toBe('modified');
    expect((await cli('--json')).json.error.code).toBe('refused.modified');
    expect((await cli('--batch-size', '0')).exitCode).toBe(ExitCode.USAGE);
  });
});
