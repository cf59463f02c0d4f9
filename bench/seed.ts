/**
 * Two modes.
 *
 * COMPARE=<dir of another built checkout> (e.g. main's): that build's `axisor-db seed` and ours, interleaved
 * (ours, theirs, ours, theirs: RUNS pairs, best of them reported), same database, `--truncate`, with per run: wall,
 * rows/s, the 1-minute load average before and after, CPU seconds of the node process (user + sys, from /proc) and
 * of the server processes working for it (the seed's sessions and their parallel workers, sampled from /proc every
 * 0.2 s; only when the server runs on this host). Defaults: USERS=100000 TRADES=50 RUNS=2.
 *
 *   npm run build && COMPARE=/path/to/main npx tsx bench/seed.ts
 *
 * Without COMPARE, the seed benchmark: `axisor-db seed` (the built CLI: binary COPY from a generator thread, bulk path) against the
 * floor PostgreSQL offers without a client: ONE plain `INSERT INTO "TradeLog" ... SELECT ... FROM generate_series`
 * of the same number of trade rows into the same schema (all indexes and foreign keys in place), in the same run.
 *
 *   npm run build && npx tsx bench/seed.ts                    # 10,000 users x 50 trades = 500k TradeLog rows, 3 runs
 *   USERS=2000 TRADES=50 RUNS=5 npx tsx bench/seed.ts          KEEP=1 keeps the database
 *
 * Rates are labelled by what they include. The machine's load average is printed: on a shared 2-CPU box other
 * work running at the same time lowers every figure (the ratios less so). Local PostgreSQL: BENCH_ADMIN_URL.
 */
import { loadavg, availableParallelism } from 'node:os';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Dropped and recreated: only names of this bench's own databases are accepted.
const DB = process.env.SEED_BENCH_DB ?? 'axisor_bench_seed';
if (!/^axisor_(bench_)?seed\w*$/.test(DB)) throw new Error(`SEED_BENCH_DB must start with axisor_seed or axisor_bench_seed (it is dropped): ${DB}`);
const COMPARE = process.env.COMPARE;
const USERS = Number(process.env.USERS ?? (COMPARE ? 100_000 : 10_000));
const TRADES = Number(process.env.TRADES ?? 50);
const RUNS = Number(process.env.RUNS ?? (COMPARE ? 2 : 3));
const ROWS = USERS * TRADES;
const url = (() => { const u = new URL(ADMIN); u.pathname = `/${DB}`; return u.toString(); })();
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^PG|^DATABASE_URL$|^AXISOR_|^NODE_OPTIONS$/.test(k)));

async function withDb<T>(target: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: target });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

await withDb(ADMIN, async (c) => {
  await c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${DB}`);
});
await withDb(url, async (c) => {
  const dir = join(ROOT, 'prisma', 'migrations');
  for (const m of readdirSync(dir).filter((d) => !d.endsWith('.toml')).sort()) await c.query(readFileSync(join(dir, m, 'migration.sql'), 'utf8'));
});

const TICK = 100; // USER_HZ on Linux
const procCpu = (pid: number): number | null => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(v[11]) + Number(v[12])) / TICK; // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
};

/** One `seed` run of the build in `root`, with the CPU of node and of the server processes that worked for it. */
async function compareRun(root: string): Promise<{ ms: number; rows: number; rps: number; nodeCpu: number; serverCpu: number | null; servers: number; load: string; phases: unknown }> {
  const l0 = loadavg()[0]!.toFixed(2);
  const seen = new Map<number, number>();
  let stop = false;
  const local = ['127.0.0.1', 'localhost', '::1'].includes(new URL(url).hostname) && existsSync('/proc/self/stat');
  const sampler = (async () => {
    if (!local) return;
    await withDb(ADMIN, async (c) => {
      while (!stop) {
        const { rows } = await c.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND (application_name LIKE 'axisor-db seed%' OR backend_type = 'parallel worker')`, [DB]);
        for (const { pid } of rows) {
          const cpu = procCpu(pid);
          if (cpu !== null) seen.set(pid, Math.max(seen.get(pid) ?? 0, cpu));
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    });
  })();
  const child = execa('node', [join(root, 'bin', 'axisor-db'), 'seed', '--database-url', url, '--users', String(USERS), '--trades-per-user', String(TRADES), '--truncate', '--json'],
    { env: CLEAN_ENV, extendEnv: false, reject: false });
  let nodeCpu = 0;
  const poll = setInterval(() => { const c = child.pid ? procCpu(child.pid) : null; if (c !== null) nodeCpu = Math.max(nodeCpu, c); }, 100);
  const r = await child;
  clearInterval(poll);
  stop = true;
  await sampler;
  if (r.exitCode !== 0) throw new Error(`${root}: axisor-db seed failed (${r.exitCode}): ${r.stderr}`);
  const res = JSON.parse(String(r.stdout)).result;
  // Our build reports its own CPU exactly; the /proc sample of an older build misses its last 0.1 s.
  if (res.phases?.nodeCpuMs) nodeCpu = res.phases.nodeCpuMs / 1000;
  const serverCpu = local ? [...seen.values()].reduce((a, b) => a + b, 0) : null;
  return { ms: res.totalMs, rows: res.totalRows, rps: res.rowsPerSecond, nodeCpu, serverCpu, servers: seen.size, load: `${l0}->${loadavg()[0]!.toFixed(2)}`, phases: res.phases ?? { copyMs: res.copyMs, rebuildMs: res.rebuildMs, analyzeMs: res.analyzeMs } };
}

if (COMPARE) {
  console.log(`seed, ours (${ROOT}) vs ${COMPARE}: ${fmt(USERS)} users x ${TRADES} trades, ${RUNS} pairs interleaved, ${availableParallelism()} CPUs, load ${load()}`);
  const out: Record<'ours' | 'theirs', Awaited<ReturnType<typeof compareRun>>[]> = { ours: [], theirs: [] };
  try {
    for (let i = 1; i <= RUNS; i++) {
      for (const [who, root] of [['ours', ROOT], ['theirs', COMPARE]] as const) {
        const r = await compareRun(root);
        out[who].push(r);
        console.log(`${who.padEnd(6)} run ${i}: ${fmt(r.rows)} rows in ${(r.ms / 1000).toFixed(1)} s = ${fmt(r.rps)} rows/s; node CPU ${r.nodeCpu.toFixed(1)} s, ` +
          `server CPU ${r.serverCpu === null ? 'n/a' : `${r.serverCpu.toFixed(1)} s (${r.servers} processes)`}; load ${r.load}; ${JSON.stringify(r.phases)}`);
      }
    }
    const best = (xs: typeof out.ours) => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const [o, t] = [best(out.ours), best(out.theirs)];
    console.log(`\nbest of ${RUNS}: ours ${(o.ms / 1000).toFixed(1)} s = ${fmt(o.rps)} rows/s (load ${o.load}); theirs ${(t.ms / 1000).toFixed(1)} s = ${fmt(t.rps)} rows/s (load ${t.load}); ` +
      `ratio ${(o.ms / t.ms).toFixed(2)}`);
  } finally {
    if (!process.env.KEEP) await withDb(ADMIN, (c) => c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));
  }
  process.exit(0);
}

console.log(`seed benchmark: ${fmt(USERS)} users x ${TRADES} trades = ${fmt(ROWS)} TradeLog rows, ${RUNS} runs, ${availableParallelism()} CPUs, load average ${load()}`);
const results: Array<{ copy: number; withRebuild: number; total: number; allRows: number; baseline: number; generator: string }> = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    const r = await execa('node', [join(ROOT, 'bin', 'axisor-db'), 'seed', '--database-url', url, '--users', String(USERS), '--trades-per-user', String(TRADES), '--truncate', '--json'],
      { env: CLEAN_ENV, extendEnv: false, reject: false });
    if (r.exitCode !== 0) throw new Error(`axisor-db seed failed (${r.exitCode}): ${r.stderr}`);
    const res = JSON.parse(String(r.stdout)).result;

    // The floor: the same number of trade rows in ONE plain INSERT ... SELECT generate_series into the full schema,
    // on the users and accounts the seed just created (so the foreign keys hold).
    const baselineMs = await withDb(url, async (c) => {
      await c.query(`TRUNCATE "TradeLog"`);
      await c.query(`UPDATE "Automation" SET execution_count = 0, last_executed_at = NULL`);
      await c.query(`CREATE TEMP TABLE acc AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS rn, id, user_id FROM "UserExchangeAccount"`);
      await c.query('ANALYZE acc');
      const [{ n }] = (await c.query(`SELECT count(*)::int AS n FROM acc`)).rows;
      const t0 = performance.now();
      await c.query(`
        INSERT INTO "TradeLog" (user_id, exchange_account_id, type, symbol, side, size, price, leverage, pnl, pnl_percentage, fees, status, executed_at, created_at)
        SELECT acc.user_id, acc.id, CASE WHEN g % 2 = 0 THEN 'OPEN' ELSE 'CLOSE' END, 'BTCUSD', CASE WHEN g % 3 = 0 THEN 'SELL' ELSE 'BUY' END,
               round((random() * 0.5)::numeric, 8), round((60000 + random() * 40000)::numeric, 1), 10,
               round((random() * 200 - 100)::numeric, 8), round((random() * 50)::numeric, 4), round((random() * 5)::numeric, 8), 'FILLED',
               timestamptz '2025-06-30' - g * interval '1 minute', timestamptz '2025-06-30' - g * interval '1 minute'
          FROM generate_series(0, $1::int - 1) g JOIN acc ON acc.rn = g % $2::int`, [ROWS, n]);
      return performance.now() - t0;
    });
    const baseline = (ROWS / baselineMs) * 1000;
    results.push({ copy: res.trades.copyRowsPerSecond, withRebuild: res.trades.withRebuildRowsPerSecond, total: res.totalMs, allRows: res.totalRows, baseline, generator: res.generator });
    console.log(`run ${run}: TradeLog COPY ${fmt(res.trades.copyRowsPerSecond)} rows/s (${fmt(res.trades.copyMs)} ms); COPY + its index/FK rebuild ${fmt(res.trades.withRebuildRowsPerSecond)} rows/s; ` +
      `whole seed ${fmt(res.totalRows)} rows in ${fmt(res.totalMs)} ms; INSERT...SELECT generate_series ${fmt(baseline)} rows/s (${fmt(baselineMs)} ms); load ${load()}`);
  }
  const m = (k: 'copy' | 'withRebuild' | 'baseline') => median(results.map((r) => r[k]));
  const best = (k: 'copy' | 'withRebuild') => Math.max(...results.map((r) => r[k]));
  console.log('');
  console.log(`median of ${RUNS} (generator: ${results[0]!.generator}):`);
  console.log(`  TradeLog COPY phase               ${fmt(m('copy')).padStart(9)} rows/s  (best ${fmt(best('copy'))})   ratio vs INSERT...SELECT ${(m('copy') / m('baseline')).toFixed(2)}x`);
  console.log(`  TradeLog COPY + index/FK rebuild  ${fmt(m('withRebuild')).padStart(9)} rows/s  (best ${fmt(best('withRebuild'))})   ratio vs INSERT...SELECT ${(m('withRebuild') / m('baseline')).toFixed(2)}x`);
  console.log(`  INSERT ... SELECT generate_series ${fmt(m('baseline')).padStart(9)} rows/s  (same rows, same schema, server-side only)`);
  console.log(`  whole seed (all 13 tables, ${fmt(results[0]!.allRows)} rows, incl. rebuild + ANALYZE): median ${fmt(median(results.map((r) => r.total)))} ms`);
  console.log(`load average at the end: ${load()}`);
} finally {
  if (!process.env.KEEP) await withDb(ADMIN, (c) => c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));
}
