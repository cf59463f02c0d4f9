import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { runCli } from '../helpers/cli.ts';
import { urlWithDatabase } from '../helpers/db.ts';
import type { DebugPerfResult, OptimizeResult } from '../helpers/results.ts';

// One throwaway cluster with pg_stat_statements preloaded (the local server does not preload it) and HypoPG
// available. Databases: "opt" (both extensions), "heur" (pg_stat_statements only), "mig" (target for the
// written migration), "nopss" (no pg_stat_statements extension created).
let cluster: ThrowawayCluster;
let tmp: string;
const url = (db: string) => urlWithDatabase(cluster.url, db);

async function sql<R extends pg.QueryResultRow = any>(db: string, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url(db) });
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}

const TABLES = `
  CREATE TABLE "Trade" (id serial PRIMARY KEY, user_id int NOT NULL, symbol text NOT NULL, amount numeric, executed_at timestamptz NOT NULL);
  INSERT INTO "Trade" (user_id, symbol, amount, executed_at) SELECT g % 2000, 'S' || (g % 50), g, now() - g * interval '1 minute' FROM generate_series(1, 50000) g;
  CREATE INDEX "Trade_symbol_idx" ON "Trade" (symbol);
  CREATE TABLE "we""ird tbl" (id int PRIMARY KEY, "odd col" int, v text);
  INSERT INTO "we""ird tbl" SELECT g, g % 3000, 'v' || g FROM generate_series(1, 30000) g;
  CREATE FUNCTION bump(numeric) RETURNS numeric IMMUTABLE LANGUAGE sql AS 'SELECT $1 + 1';`;

async function workload(db: string): Promise<void> {
  const c = new pg.Client({ connectionString: url(db) });
  await c.connect();
  try {
    for (let i = 0; i < 20; i++) {
      await c.query('SELECT * FROM "Trade" WHERE user_id = $1', [i]); // unindexed column: the planted problem
      await c.query('SELECT * FROM "Trade" WHERE id = $1', [i]); // primary key: already indexed
      await c.query('SELECT count(*) FROM "Trade" WHERE symbol = $1', [`S${i}`]); // indexed column
      await c.query('SELECT count(*) FROM "we""ird tbl" w WHERE w."odd col" = $1', [i]); // quote and space in names
      // Unindexed too, but planning would run the user-defined function with optimize's role: never planned.
      await c.query('SELECT count(*) FROM "Trade" WHERE amount = bump($1)', [i]);
    }
  } finally {
    await c.end();
  }
}

async function indexesOf(db: string): Promise<Array<{ name: string; valid: boolean }>> {
  return sql(db, `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
                  WHERE t.relnamespace = 'public'::regnamespace ORDER BY 1`);
}

const key = (s: { table: string; columns: string[] }) => `${s.table}(${s.columns.join(',')})`;

beforeAll(async () => {
  cluster = await startThrowawayCluster({ env: process.env, settings: { shared_preload_libraries: 'pg_stat_statements' } });
  tmp = mkdtempSync(join(tmpdir(), 'axisor-optimize-'));
  for (const db of ['opt', 'heur', 'mig', 'nopss']) await sql('postgres', `CREATE DATABASE ${db}`);
  await sql('opt', `CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg; ${TABLES}`);
  await sql('heur', `CREATE EXTENSION pg_stat_statements; ${TABLES}`);
  await sql('mig', TABLES);
  // ANALYZE in its own statement: in the same implicit transaction as the INSERTs the changes would still count as "since analyze".
  for (const db of ['opt', 'heur', 'mig']) await sql(db, 'ANALYZE');
  await sql('opt', 'SELECT pg_stat_statements_reset()');
  await workload('opt');
  await workload('heur');
});

afterAll(async () => {
  await cluster?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('optimize with HypoPG (planner-proven)', () => {
  test('suggests exactly the missing indexes, each cutting the cost by at least 50%, and changes nothing', async () => {
    const before = await indexesOf('opt');
    const r = await runCli<OptimizeResult>(['optimize', '--json', '--database-url', url('opt')]);
    expect(r.exitCode).toBe(1);
    const res = r.json.result;
    expect(res.method).toBe('hypopg');
    expect(res.confidence).toBe('high');
    expect(res.statStatements.columnSet).toBe('exec_time');
    expect(res.suggestions.map(key).sort()).toEqual(['Trade(user_id)', 'we"ird tbl(odd col)']);
    for (const s of res.suggestions) {
      expect(s.reduction).toBeGreaterThanOrEqual(0.5);
      expect(s.estimatedBytes).toBeGreaterThan(0);
      expect(s.writeOverhead!.existingIndexes).toBeGreaterThanOrEqual(1);
    }
    expect(res.suggestions.find((s) => s.table === 'we"ird tbl')!.sql).toBe('CREATE INDEX CONCURRENTLY IF NOT EXISTS "we""ird tbl_odd col_idx" ON "public"."we""ird tbl" USING btree ("odd col")');
    // Statements already served by an index get nothing.
    const byText = (re: RegExp) => res.statements.find((s) => re.test(s.query))!;
    expect(byText(/WHERE id = \$1/).indexes).toEqual([]);
    expect(['below_min_cost', 'no_improvement', 'covered_by_existing']).toContain(byText(/WHERE id = \$1/).outcome);
    expect(byText(/WHERE symbol = \$1/).indexes.filter((i) => i !== '"Trade_symbol_idx"')).toEqual([]);
    expect(byText(/WHERE symbol = \$1/).outcome).not.toBe('improved');
    expect(byText(/bump\(\$1\)/)).toMatchObject({ outcome: 'skipped_user_function', initialCost: null, indexes: [] });
    expect(await indexesOf('opt')).toEqual(before);
  });

  test('a --min-improvement bar no index reaches yields no suggestion', async () => {
    const r = await runCli<OptimizeResult>(['optimize', '--json', '--min-improvement', '99.9', '--database-url', url('opt')]);
    expect(r.json.result.suggestions).toEqual([]);
    expect(r.json.result.findings.some((f) => f.check === 'missing_index')).toBe(false);
  });

  test('--write-migration writes a CONCURRENTLY migration that applies, and schema.prisma gets the @@index', async () => {
    const schemaFile = join(tmp, 'schema.prisma');
    const migrationsDir = join(tmp, 'migrations');
    writeFileSync(schemaFile, [
      'model Trade {', '  id          Int      @id @default(autoincrement())', '  user_id     Int', '  symbol      String', '  amount      Decimal?', '  executed_at DateTime @db.Timestamptz(6)', '', '  @@index([symbol])', '}', '',
      'model WeirdTbl {', '  id     Int     @id', '  oddCol Int?    @map("odd col")', '  v      String?', '', '  @@map("we\\"ird tbl")', '}', '',
    ].join('\n'));
    const before = await indexesOf('opt');
    const r = await runCli<OptimizeResult>(['optimize', '--json', '--write-migration', '--migration-name', 'add trade indexes', '--schema-file', schemaFile, '--migrations-dir', migrationsDir, '--database-url', url('opt')]);
    expect(r.exitCode).toBe(1);
    const m = r.json.result.migration;
    expect(m!.directory).toMatch(/\/\d{14}_add_trade_indexes$/);
    expect(existsSync(m!.file)).toBe(true);
    expect(await indexesOf('opt')).toEqual(before); // writing a migration does not touch the database
    const schema = readFileSync(schemaFile, 'utf8');
    expect(schema).toContain('  @@index([symbol])\n  @@index([user_id])\n}');
    expect(schema).toContain('  @@map("we\\"ird tbl")\n  @@index([oddCol])\n}');

    // The fixture tables are no Prisma history, so the file is run here as `axisor-db migrate` runs a CONCURRENTLY
    // file (outside a transaction, one statement at a time); optimize-migrate.test.ts goes through migrate itself.
    const statements = readFileSync(m!.file, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('--'));
    expect(statements).toHaveLength(2);
    for (const s of statements) expect(s).toMatch(/^CREATE INDEX CONCURRENTLY IF NOT EXISTS /);
    for (const s of statements) await sql('mig', s);
    const created = await indexesOf('mig');
    expect(created).toEqual(expect.arrayContaining([{ name: 'Trade_user_id_idx', valid: true }, { name: 'we"ird tbl_odd col_idx', valid: true }]));
  });

  test('--apply drops an INVALID leftover of a failed concurrent build, creates the indexes concurrently, and the plan uses them', async () => {
    // A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind, here with the name optimize will use.
    await expect(sql('opt', 'CREATE UNIQUE INDEX CONCURRENTLY "Trade_user_id_idx" ON "Trade" (user_id)')).rejects.toMatchObject({ code: '23505' });
    expect(await indexesOf('opt')).toContainEqual({ name: 'Trade_user_id_idx', valid: false });

    const check = await runCli<OptimizeResult>(['optimize', '--json', '--database-url', url('opt')]);
    expect(check.json.result.indexes.invalid.map((i) => i.index)).toEqual(['"public"."Trade_user_id_idx"']);
    expect(check.json.result.suggestions.map(key)).toContain('Trade(user_id)');

    const r = await runCli<OptimizeResult>(['optimize', '--json', '--apply', '--database-url', url('opt')]);
    expect(r.exitCode).toBe(0); // everything found was fixed: created indexes and the rebuilt leftover are info only
    const applied = r.json.result.applied;
    expect(applied).toEqual(expect.arrayContaining([
      expect.objectContaining({ index: '"public"."Trade_user_id_idx"', status: 'created', droppedInvalid: true, verified: true }),
      expect.objectContaining({ index: '"public"."we""ird tbl_odd col_idx"', status: 'created', droppedInvalid: false, verified: true }),
    ]));
    expect(await indexesOf('opt')).toEqual(expect.arrayContaining([{ name: 'Trade_user_id_idx', valid: true }, { name: 'we"ird tbl_odd col_idx', valid: true }]));
    const plan = await sql('opt', `EXPLAIN (FORMAT JSON) SELECT * FROM "Trade" WHERE user_id = 42`);
    expect(JSON.stringify(plan[0]['QUERY PLAN'])).toContain('"Index Name":"Trade_user_id_idx"');

    const again = await runCli<OptimizeResult>(['optimize', '--json', '--database-url', url('opt')]);
    expect(again.json.result.suggestions).toEqual([]);
    expect(again.json.result.indexes.invalid).toEqual([]);
  });

  test('debug-perf reads slow queries with the installed version\'s columns', async () => {
    const r = await runCli<DebugPerfResult>(['debug-perf', '--json', '--slow-ms', '0', '--slow-calls', '1', '--database-url', url('opt')]);
    expect(r.exitCode).toBeLessThan(64);
    expect(r.json.result.statStatements.columnSet).toBe('exec_time');
    expect(r.json.result.slowQueries!.some((q) => /FROM "Trade" WHERE user_id = \$1/.test(q.query))).toBe(true);
  });
});

describe('optimize without HypoPG (heuristic, lower confidence)', () => {
  test('a database where hypopg is not created falls back to the statistics heuristic and says how to get planner proof', async () => {
    const r = await runCli<OptimizeResult>(['optimize', '--json', '--database-url', url('heur')]);
    expect(r.exitCode).toBe(1);
    const res = r.json.result;
    expect(res.method).toBe('heuristic');
    expect(res.confidence).toBe('low');
    expect(res.hypopg).toMatchObject({ available: true, installed: false });
    expect(res.findings.some((f) => f.check === 'hypopg' && f.severity === 'info')).toBe(true);
    expect(res.suggestions.map(key).sort()).toEqual(['Trade(user_id)', 'we"ird tbl(odd col)']);
    for (const s of res.suggestions) expect(s).toMatchObject({ confidence: 'low', reduction: null, method: 'heuristic' });
  });

  test('--no-hypopg forces the heuristic where HypoPG is installed', async () => {
    const r = await runCli<OptimizeResult>(['optimize', '--json', '--no-hypopg', '--min-calls', '1', '--database-url', url('opt')]);
    expect(r.json.result.method).toBe('heuristic');
    expect(r.json.result.hypopg.installed).toBe(true);
  });
});

describe('optimize prerequisites', () => {
  test('pg_stat_statements preloaded but not created: exit 69 naming CREATE EXTENSION', async () => {
    const r = await runCli<OptimizeResult>(['optimize', '--json', '--database-url', url('nopss')]);
    expect(r.exitCode).toBe(69);
    expect(r.json.error.code).toBe('prerequisite.pg_stat_statements');
    expect(r.json.error.details).toMatchObject({ preloaded: true, installed: false });
    expect(r.json.error.details!.steps).toEqual([expect.stringContaining('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')]);
  });
});
