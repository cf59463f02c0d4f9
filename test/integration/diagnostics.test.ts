import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase, query, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import type { DebugPerfResult, DebugPoolResult, OptimizeResult } from '../helpers/results.ts';

// The test server (TEST_DATABASE_URL, whatever its settings): debug-pool, debug-perf; optimize's prerequisite error on a
// throwaway cluster without pg_stat_statements preloaded.
let db: TestDatabase;
const clients: pg.Client[] = [];

async function session(appName: string): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: db.url, application_name: appName });
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  return { client, pid };
}

beforeAll(async () => {
  db = await createTestDatabase('diag');
  await query(db.url, `
    CREATE TABLE account (id serial PRIMARY KEY, email text NOT NULL, plan text NOT NULL);
    INSERT INTO account (email, plan) SELECT 'u' || g || '@x', 'FREE' FROM generate_series(1, 2000) g;
    CREATE TABLE trade (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES account (id), symbol text NOT NULL, qty int NOT NULL);
    INSERT INTO trade (account_id, symbol, qty) SELECT 1 + g % 2000, 'S' || (g % 40), g FROM generate_series(1, 5000) g;
    CREATE INDEX trade_qty_unused ON trade (qty);
    CREATE INDEX trade_symbol_a ON trade (symbol);
    CREATE INDEX trade_symbol_b ON trade (symbol);
    CREATE TABLE counter (id serial PRIMARY KEY, n int);
    SELECT setval('counter_id_seq', 2000000000);`);
  await query(db.url, 'ANALYZE');
  // Use the symbol indexes so only trade_qty_unused is unused.
  await query(db.url, `SET enable_seqscan = off; SELECT count(*) FROM trade WHERE symbol = 'S1'`);
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await db?.drop();
});

describe('debug-perf', () => {
  test('reports the unused and duplicate indexes, the FK without an index, a sequence near exhaustion; skips slow queries with a note', async () => {
    const r = await runCli<DebugPerfResult>(['debug-perf', '--json', '--database-url', db.url]);
    expect(r.exitCode).toBe(1);
    const res = r.json.result;
    expect(res.indexes.unused.map((u) => u.index)).toContain('"public"."trade_qty_unused"');
    expect(res.indexes.redundant).toEqual([expect.objectContaining({ index: '"public"."trade_symbol_b"', kind: 'duplicate', coveredBy: '"public"."trade_symbol_a"' })]);
    expect(res.indexes.foreignKeysWithoutIndex).toEqual([expect.objectContaining({ table: '"public"."trade"', columns: ['account_id'] })]);
    expect(res.sequences[0]).toMatchObject({ sequence: 'public.counter_id_seq', columnType: 'integer' });
    expect(res.findings).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'sequence_exhaustion', severity: 'warning' })]));
    // What holds on any server: slow queries are read exactly when pg_stat_statements is preloaded (and installed).
    const [{ preloaded }] = await query<{ preloaded: boolean }>(db.url, `SELECT 'pg_stat_statements' = ANY(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS preloaded`);
    expect(res.statStatements.preloaded).toBe(preloaded);
    if (res.statStatements.problem) {
      expect(res.slowQueries).toBeNull();
      expect(res.findings).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'slow_queries', severity: 'info' })]));
    } else {
      expect(res.slowQueries).toEqual(expect.any(Array));
    }
    for (const f of res.findings) expect(['ok', 'info', 'warning', 'critical']).toContain(f.severity);
  });

  test('human view prints tables and the same exit code', async () => {
    const r = await runCli<DebugPerfResult>(['debug-perf', '--database-url', db.url]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('trade_qty_unused');
  });
});

describe('debug-pool', () => {
  test('a quiet database: exit 0', async () => {
    const r = await runCli<DebugPoolResult>(['debug-pool', '--json', '--database-url', db.url]);
    expect(r.exitCode).toBe(0);
    expect(r.json.result.connections.maxConnections).toBeGreaterThan(0);
    expect(r.json.result.sessions).toEqual([]);
  });

  test('shows a session idle in transaction and a blocked/blocking pair', async () => {
    const idle = await session('axisor-test-idle');
    await idle.client.query('BEGIN');
    await idle.client.query('SELECT count(*) FROM account');
    const holder = await session('axisor-test-holder');
    await holder.client.query('BEGIN');
    await holder.client.query('UPDATE account SET plan = $1 WHERE id = 1', ['PRO']);
    const waiter = await session('axisor-test-waiter');
    const blocked = waiter.client.query('UPDATE account SET plan = $1 WHERE id = 1', ['BASIC']).catch(() => {});
    // Let the waiter queue on the row lock and the idle session pass the 1 s threshold.
    await waitFor('the waiter to queue on the row lock', async () =>
      (await query<{ n: number }>(db.url, 'SELECT cardinality(pg_blocking_pids($1)) AS n', [waiter.pid]))[0]!.n > 0);
    await waitFor('the idle session to be idle in transaction for more than 1 s', async () =>
      (await query<{ ok: boolean }>(db.url, `SELECT state = 'idle in transaction' AND clock_timestamp() - state_change > interval '1 second' AS ok FROM pg_stat_activity WHERE pid = $1`, [idle.pid]))[0]?.ok === true);

    const r = await runCli<DebugPoolResult>(['debug-pool', '--json', '--idle-in-transaction', '1s', '--database-url', db.url]);
    expect(r.exitCode).toBe(1);
    const res = r.json.result;
    const byPid = (pid: number) => res.sessions.find((s) => s.pid === pid);
    expect(byPid(idle.pid)).toMatchObject({ state: 'idle in transaction', flag: 'idle_in_transaction', application: 'axisor-test-idle' });
    expect(byPid(waiter.pid)).toMatchObject({ flag: 'blocked', blockedBy: [holder.pid] });
    expect(res.blocking).toEqual([expect.objectContaining({ pid: holder.pid, blocks: [waiter.pid], state: 'idle in transaction' })]);
    expect(res.chains).toEqual([{ root: holder.pid, blocked: [waiter.pid] }]);
    expect(res.findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ check: 'idle_in_transaction', object: `pid ${idle.pid}`, severity: 'warning' }),
      expect.objectContaining({ check: 'blocked', object: `pid ${waiter.pid}`, severity: 'warning' }),
    ]));

    await holder.client.query('ROLLBACK');
    await blocked;
    await idle.client.query('ROLLBACK');
  });

  test('a bad threshold is a usage error naming the flag', async () => {
    const r = await runCli<DebugPoolResult>(['debug-pool', '--json', '--long-query', 'soon', '--database-url', db.url]);
    expect(r.exitCode).toBe(64); // a bad flag value is a usage error, like every other
    expect(r.json.error.code).toBe('usage.duration');
  });
});

describe('optimize without pg_stat_statements preloaded', () => {
  // A server of its own, with nothing preloaded: the local one may preload pg_stat_statements.
  let bare: ThrowawayCluster;
  beforeAll(async () => {
    bare = await startThrowawayCluster({ env: process.env, settings: { shared_preload_libraries: '' } });
  });
  afterAll(async () => bare?.stop());

  test('exits 69 with the steps: shared_preload_libraries, restart, CREATE EXTENSION', async () => {
    const r = await runCli<OptimizeResult>(['optimize', '--json', '--database-url', bare.url]);
    expect(r.exitCode).toBe(69);
    expect(r.json.error.code).toBe('prerequisite.pg_stat_statements');
    const steps = r.json.error.details!.steps as string[];
    expect(steps).toHaveLength(3);
    expect(steps[0]).toContain('shared_preload_libraries');
    expect(steps[2]).toContain('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const human = await runCli(['optimize', '--database-url', bare.url]);
    expect(human.exitCode).toBe(69);
    expect(human.stderr).toContain('shared_preload_libraries');
  });
});
