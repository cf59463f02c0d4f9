/**
 * validate benchmark: our `axisor-db validate` vs the floor (each check's bare query run once, in one psql
 * session) and vs the design document's queries (NOT IN ...), at work_mem 1MB and at the server default.
 *
 *   npx tsx bench/validate.ts            # builds axisor_bench_validate (5M trades, ~3 min) unless it exists
 *   TRADES=1000000 npx tsx bench/validate.ts   KEEP=1 keeps the database, REBUILD=1 rebuilds it
 *
 * Needs `npm run build` first (it runs the built CLI, as a user would) and a local PostgreSQL (BENCH_ADMIN_URL,
 * default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { findPgTool } from '../src/pgtools/find.ts';
import { sql } from './seeded-db.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'axisor_bench_validate';
const TRADES = Number(process.env.TRADES ?? 5_000_000);
const TIMEOUT_S = Number(process.env.DOC_TIMEOUT ?? 120);
const url = (() => { const u = new URL(ADMIN); u.pathname = `/${DB}`; return u.toString(); })();
const psql = (await findPgTool('psql', { env: process.env })).path;

const PSQL_ENV = { ...process.env, PGOPTIONS: undefined } as Record<string, string | undefined>;
async function psqlRun(args: string[], input?: string) {
  return execa(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args], { input, reject: false, env: PSQL_ENV, extendEnv: false });
}

async function ensureData(): Promise<void> {
  const exists = (await sql(ADMIN, `SELECT 1 FROM pg_database WHERE datname = '${DB}'`)).length > 0;
  if (exists && !process.env.REBUILD) {
    const [{ n }] = await sql(url, `SELECT count(*)::bigint AS n FROM "TradeLog"`);
    if (Number(n) >= TRADES) return;
  }
  await sql(ADMIN, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await sql(ADMIN, `CREATE DATABASE ${DB}`);
  const dir = join(ROOT, 'prisma', 'migrations');
  const init = readdirSync(dir).filter((d) => d.endsWith('_init'))[0];
  const t0 = Date.now();
  for (const args of [['-f', join(dir, init, 'migration.sql')], ['-v', `trades=${TRADES}`, '-f', join(ROOT, 'bench', 'validate-data.sql')]]) {
    const r = await psqlRun(args);
    if (r.exitCode !== 0) throw new Error(`psql ${args.join(' ')} failed: ${r.stderr}`);
  }
  console.log(`built ${DB} with ${TRADES} trades in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

async function ours(jobs: number): Promise<{ wall: number; internal: number; exit: number }> {
  const t0 = performance.now();
  const r = await execa('node', [join(ROOT, 'bin', 'axisor-db'), 'validate', '--json', '--jobs', String(jobs), '--database-url', url], { reject: false });
  const wall = (performance.now() - t0) / 1000;
  const doc = JSON.parse(r.stdout);
  if (!doc.result) throw new Error(`validate failed: ${r.stderr}`);
  return { wall, internal: doc.result.durationMs / 1000, exit: r.exitCode ?? -1 };
}

/**
 * The floor: each check's query once, in one psql session with \timing. `listing` runs the SQL validate prints
 * (it returns the failing rows, discarded); `count` wraps it in count(*), which lets the planner skip reading
 * columns it no longer needs (a stricter floor than the queries a user would paste).
 */
async function floor(checkSql: string[], mode: 'listing' | 'count'): Promise<number> {
  const script = ['\\timing on', ...checkSql.map((s) => (mode === 'count' ? `SELECT count(*) FROM (${s}) f;` : `${s};`))].join('\n');
  const r = await psqlRun(['-At', '-o', '/dev/null'], script);
  if (r.exitCode !== 0) throw new Error(`floor queries failed: ${r.stderr}`);
  const times = [...r.stdout.matchAll(/^Time: ([\d.]+) ms/gm)].map((m) => Number(m[1]));
  if (times.length !== checkSql.length) throw new Error(`expected ${checkSql.length} timings, got ${times.length}`);
  return times.reduce((a, b) => a + b, 0) / 1000;
}

// The design document's DataValidationService queries, as written there (Prisma counts spelled out in SQL).
const DOC_QUERIES: Array<[string, string]> = [
  ['Automation user_id NOT IN', `SELECT id FROM "Automation" WHERE user_id NOT IN (SELECT id FROM "User")`],
  ['TradeLog user_id NOT IN', `SELECT id FROM "TradeLog" WHERE user_id NOT IN (SELECT id FROM "User")`],
  ['negative sizes', `SELECT count(*) FROM "TradeLog" WHERE size < 0`],
  ['future timestamps', `SELECT count(*) FROM "TradeLog" WHERE executed_at > now()`],
  ['plan types', `SELECT id, plan_type FROM "User" WHERE plan_type NOT IN ('FREE', 'BASIC', 'ADVANCED', 'PRO', 'LIFETIME')`],
  ['execution counts', `SELECT a.id, a.execution_count, COUNT(t.id) as actual_count FROM "Automation" a LEFT JOIN "TradeLog" t ON a.id = t.automation_id GROUP BY a.id, a.execution_count HAVING a.execution_count != COUNT(t.id)`],
];

async function docQuery(q: string): Promise<number | null> {
  const t0 = performance.now();
  const r = await psqlRun(['-At', '-o', '/dev/null', '-c', `SET statement_timeout = '${TIMEOUT_S}s'`, '-c', q]);
  const s = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) {
    if (/statement timeout/.test(r.stderr)) return null;
    throw new Error(`${q}: ${r.stderr}`);
  }
  return s;
}

const fmt = (s: number | null) => (s === null ? `> ${TIMEOUT_S} s` : `${s.toFixed(2)} s`);

await ensureData();
const list = JSON.parse((await execa('node', [join(ROOT, 'bin', 'axisor-db'), 'validate', '--list', '--json', '--database-url', url])).stdout);
const checkSql: string[] = list.result.checks.map((c: any) => c.sql);
const [{ work_mem: serverDefault }] = await sql(ADMIN, 'SHOW work_mem');
console.log(`${checkSql.length} checks; ${TRADES} trades; 2 runs each, best kept (warm cache)\n`);

try {
  for (const wm of ['1MB', serverDefault]) {
    await sql(ADMIN, `ALTER DATABASE ${DB} SET work_mem = '${wm}'`);
    await sql(url, 'SELECT count(*) FROM "TradeLog"'); // warm the cache for everyone alike
    const best = async <T>(f: () => Promise<T>, key: (t: T) => number) => { const a = await f(); const b = await f(); return key(a) <= key(b) ? a : b; };
    const fl = await best(() => floor(checkSql, 'listing'), (x) => x);
    const fc = await best(() => floor(checkSql, 'count'), (x) => x);
    const o1 = await best(() => ours(1), (x) => x.wall);
    const o2 = await best(() => ours(2), (x) => x.wall);
    const doc: Array<[string, number | null]> = [];
    for (const [name, q] of DOC_QUERIES) doc.push([name, await docQuery(q)]);
    const docSum = doc.reduce((a, [, s]) => a + (s ?? TIMEOUT_S), 0);
    const docTimedOut = doc.some(([, s]) => s === null);
    console.log(`work_mem ${wm}`);
    console.log(`  floor: ${checkSql.length} listing queries as printed, psql      ${fmt(fl)}`);
    console.log(`  floor: the same wrapped in count(*), psql          ${fmt(fc)}`);
    for (const [label, o] of [['--jobs 1', o1], ['--jobs 2', o2]] as const) {
      console.log(`  axisor-db validate ${label} (wall, incl. node start)  ${fmt(o.wall)}  (in-process ${fmt(o.internal)})  ratio ${(o.wall / fl).toFixed(2)}x listing floor, ${(o.wall / fc).toFixed(2)}x count floor  exit ${o.exit}`);
    }
    console.log(`  design document's ${DOC_QUERIES.length} queries (6 checks, not 27)           ${docTimedOut ? '> ' : ''}${docSum.toFixed(2)} s  ratio to ours ${docTimedOut ? '> ' : ''}${(docSum / o1.wall).toFixed(1)}x`);
    for (const [name, s] of doc) console.log(`      ${name.padEnd(28)} ${fmt(s)}`);
    console.log('');
  }
} finally {
  await sql(ADMIN, `ALTER DATABASE ${DB} RESET work_mem`);
  if (!process.env.KEEP) await sql(ADMIN, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
}
