import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { ExitCode } from '../../src/errors.ts';
import { plantDefects } from '../../src/demo/sql.ts';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase, query, type TestDatabase } from '../helpers/db.ts';
import type { DebugPerfResult, MigrateUpResult, OptimizeResult, ValidateReport } from '../helpers/results.ts';

// Issue 15, items 10 and 11: what a newcomer hits with validate, migrate and the diagnostics.

describe('validate never reads "nothing checked" as "all passed"', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createTestDatabase('nc_empty');
  });
  afterAll(async () => empty?.drop());

  test('--schema nosuch -> 66 naming the schema and the schemas that exist', async () => {
    const r = await runCli<ValidateReport>(['validate', '--schema', 'nosuch', '--database-url', empty.url, '--json']);
    expect(r.exitCode).toBe(ExitCode.NOT_FOUND);
    expect(r.json.error).toMatchObject({ code: 'not_found.schema' });
    expect(r.json.error.message).toContain('"nosuch"');
    expect(r.json.error.hint).toContain('public');
    const list = await runCli(['validate', '--list', '--schema', 'nosuch', '--database-url', empty.url]);
    expect(list.exitCode).toBe(ExitCode.NOT_FOUND);
  });
  test('a schema without any Axisor table -> 66 naming `axisor-db migrate`', async () => {
    const r = await runCli<ValidateReport>(['validate', '--database-url', empty.url, '--json']);
    expect(r.exitCode).toBe(ExitCode.NOT_FOUND);
    expect(r.json.error.hint).toContain('axisor-db migrate');
  });
});

describe('a database with extension views only, then one fix --apply', () => {
  // optimize needs pg_stat_statements preloaded: a throwaway cluster, whatever the local server's settings
  let cluster: ThrowawayCluster;
  let db: TestDatabase;
  beforeAll(async () => {
    cluster = await startThrowawayCluster({ env: process.env, settings: { shared_preload_libraries: 'pg_stat_statements' } });
    db = await createTestDatabase('nc_ext', cluster.url);
    // pg_stat_statements and hypopg put views into public; creating them needs no preload
    await query(db.url, 'CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg');
  });
  afterAll(async () => {
    await db?.drop();
    await cluster?.stop();
  });

  test('the first migrate is not refused with P3005: extension members are not the user\'s tables', async () => {
    const r = await runCli<MigrateUpResult>(['migrate', '--database-url', db.url, '--json']);
    expect(r.json?.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(r.json.result.schemaMigrations.applied.length).toBeGreaterThan(0);
  });

  test('after fix --apply, debug-perf and optimize report nothing about axisor-db\'s own objects', async () => {
    expect((await runCli(['seed', '--users', '30', '--trades-per-user', '5', '--database-url', db.url, '--quiet'])).exitCode).toBe(0);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await plantDefects(c, 'public');
    } finally {
      await c.end();
    }
    const fix = await runCli(['fix', '--apply', '--database-url', db.url, '--json']);
    expect(fix.exitCode).toBe(0);
    const [{ n }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM axisor_quarantine.rows');
    expect(n).toBeGreaterThan(0);
    // the quarantine was just written and never analyzed: optimize saw "stale statistics" there (and exited 1)
    const [{ analyzed }] = await query<{ analyzed: boolean }>(db.url, `SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE schemaname = 'axisor_quarantine' AND relname = 'rows'`);
    expect(analyzed).toBe(false);
    const own = /axisor_quarantine|axisor_data_migrations|_prisma_migrations/;
    const perf = await runCli<DebugPerfResult>(['debug-perf', '--database-url', db.url, '--json']);
    expect(perf.json.result.findings.filter((f) => own.test(`${f.object} ${f.message}`))).toEqual([]);
    // the quarantine has foreign keys (and indexes) of its own: what debug-perf said about them is filtered, not absent
    const fk = await query(db.url, `SELECT 1 FROM pg_constraint WHERE contype = 'f' AND connamespace = 'axisor_quarantine'::regnamespace`);
    expect(fk.length).toBeGreaterThan(0);
    const opt = await runCli<OptimizeResult>(['optimize', '--database-url', db.url, '--json']);
    expect(opt.json.result.staleStatistics.filter((s) => own.test(s.table))).toEqual([]);
    expect(opt.json.result.findings.filter((f) => own.test(`${f.object} ${f.message}`))).toEqual([]);
  });
});
