import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { query, urlWithDatabase } from '../helpers/db.ts';
import type { OptimizeResult } from '../helpers/results.ts';

// The Axisor data model end to end: the real migrations (applied by `axisor-db migrate`), a workload on
// "TradeLog" filtering the unindexed "symbol" column, `optimize --write-migration` on temp copies of
// prisma/schema.prisma and prisma/migrations, then `axisor-db migrate` applies the generated CONCURRENTLY file.
let cluster: ThrowawayCluster;
let tmp: string;
let url: string;

const sql = <R extends pg.QueryResultRow = any>(text: string, params: unknown[] = []): Promise<R[]> => query<R>(url, text, params);

beforeAll(async () => {
  cluster = await startThrowawayCluster({ env: process.env, settings: { shared_preload_libraries: 'pg_stat_statements' } });
  tmp = mkdtempSync(join(tmpdir(), 'axisor-optimize-migrate-'));
  cpSync(join(ROOT, 'prisma/migrations'), join(tmp, 'migrations'), { recursive: true });
  cpSync(join(ROOT, 'prisma/schema.prisma'), join(tmp, 'schema.prisma'));
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query('CREATE DATABASE axisor');
  await admin.end();
  url = urlWithDatabase(cluster.url, 'axisor');
  const init = await runCli(['migrate', '--json', '--migrations-dir', join(tmp, 'migrations'), '--database-url', url]);
  expect(init.exitCode).toBe(0);
  await sql(`
    CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg;
    INSERT INTO "User" (id, email) SELECT 'u' || g, 'u' || g || '@example.com' FROM generate_series(1, 200) g;
    INSERT INTO "UserExchangeAccount" (id, user_id, exchange_name, label, api_key_encrypted, api_secret_encrypted)
      SELECT 'x' || g, 'u' || g, 'lnmarkets', 'main', 'k', 's' FROM generate_series(1, 200) g;
    INSERT INTO "TradeLog" (user_id, exchange_account_id, type, symbol, side, size, price, status, executed_at)
      SELECT 'u' || (1 + g % 200), 'x' || (1 + g % 200), 'OPEN', 'SYM' || (g % 300), 'BUY', 1, 100, 'FILLED', now() - g * interval '1 minute'
      FROM generate_series(1, 40000) g;`);
  await sql('ANALYZE');
  await sql('SELECT pg_stat_statements_reset()');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (let i = 0; i < 20; i++) await c.query('SELECT id, price, status FROM "TradeLog" WHERE symbol = $1', [`SYM${i}`]);
  await c.end();
});

afterAll(async () => {
  await cluster?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('--write-migration on the Axisor model: the migration applies with `axisor-db migrate` and schema.prisma carries the @@index', async () => {
  const schemaFile = join(tmp, 'schema.prisma');
  const migrationsDir = join(tmp, 'migrations');
  const r = await runCli<OptimizeResult>(['optimize', '--json', '--write-migration', '--schema-file', schemaFile, '--migrations-dir', migrationsDir, '--database-url', url]);
  expect(r.exitCode).toBe(1);
  expect(r.json.result.suggestions.map((s) => `${s.table}(${s.columns})`)).toEqual(['TradeLog(symbol)']);
  expect(r.json.result.suggestions[0].reduction).toBeGreaterThanOrEqual(0.5);
  const m = r.json.result.migration;
  expect(readdirSync(migrationsDir).filter((d) => d.endsWith('_optimize_indexes'))).toHaveLength(1);
  expect(readFileSync(m!.file, 'utf8')).toContain('CREATE INDEX CONCURRENTLY IF NOT EXISTS "TradeLog_symbol_idx" ON "TradeLog" USING btree ("symbol");');
  const model = /model TradeLog \{[\s\S]*?\n\}/.exec(readFileSync(schemaFile, 'utf8'))![0];
  expect(model).toContain('  @@index([simulation_id])\n  @@index([symbol])\n}');

  const lint = await runCli(['migrate', 'lint', '--json', m!.directory]);
  expect(lint.exitCode).toBe(0);
  const up = await runCli(['migrate', '--json', '--migrations-dir', migrationsDir, '--database-url', url]);
  expect(up.exitCode).toBe(0);
  const idx = await sql(`SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'TradeLog_symbol_idx'`);
  expect(idx).toEqual([{ valid: true }]);
  const status = await runCli(['migrate', 'status', '--json', '--migrations-dir', migrationsDir, '--database-url', url]);
  expect(status.exitCode).toBe(0);

  const plan = await sql(`EXPLAIN (FORMAT JSON) SELECT id FROM "TradeLog" WHERE symbol = 'SYM7'`);
  expect(JSON.stringify(plan[0]['QUERY PLAN'])).toContain('"Index Name":"TradeLog_symbol_idx"');
});
