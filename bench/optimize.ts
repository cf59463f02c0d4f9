/**
 * Speed of `debug-perf` and `optimize` against the floor: psql replaying, in one session, exactly the SQL statements
 * the service sent (recorded from an in-process run, parameters inlined as literals), on the same database in the
 * same run. Prints each command's wall time as the built CLI (node start-up included) and in-process, and the ratios.
 *
 *   npx tsx bench/optimize.ts [--rows 1000000] [--tables 40] [--runs 5]
 *
 * Needs the PostgreSQL 15 server binaries, pg_stat_statements (contrib) and HypoPG (postgresql-15-hypopg).
 * Not a test: nothing here asserts a time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { resolveConfig } from '../src/config/index.ts';
import { quoteLiteral } from '../src/db/ident.ts';
import { debugPerf } from '../src/diagnostics/perf.ts';
import { optimize } from '../src/optimize/optimize.ts';
import { findPgTool, startThrowawayCluster } from '../src/pgtools/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg('rows', 1_000_000);
const TABLES = arg('tables', 40);
const RUNS = arg('runs', 5);

// Record every statement a pg.Client sends while `recording` is on.
let recording: Array<{ text: string; values: unknown[] }> | null = null;
const originalQuery = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: pg.Client, text: any, values?: any, cb?: any) {
  if (recording && typeof text === 'string') recording.push({ text, values: Array.isArray(values) ? values : [] });
  return (originalQuery as any).call(this, text, values, cb);
};

function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return quoteLiteral(`{${v.map((e) => `"${String(e).replace(/["\\]/g, '\\$&')}"`).join(',')}}`);
  return quoteLiteral(String(v));
}

/** The recorded statements as a psql script: parameters inlined, highest number first so $1 does not eat $10. */
function toScript(statements: ReadonlyArray<{ text: string; values: unknown[] }>): string {
  return statements.map(({ text, values }) => {
    let sql = text;
    for (let i = values.length; i >= 1; i--) sql = sql.split(`$${i}`).join(literal(values[i - 1]));
    return `${sql.trim().replace(/;\s*$/, '')};`;
  }).join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function main(): Promise<void> {
  const cluster = await startThrowawayCluster({ env: process.env, settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track_utility': false, shared_buffers: '256MB' } });
  const tmp = mkdtempSync(join(tmpdir(), 'axisor-bench-optimize-'));
  try {
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench');
    await admin.end();
    const url = cluster.url.replace(/\/postgres$/, '/bench');
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    let t = performance.now();
    await db.query(`CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg;
      CREATE TABLE "TradeLog" (id bigserial PRIMARY KEY, user_id int NOT NULL, symbol text NOT NULL, status text NOT NULL, size numeric NOT NULL, executed_at timestamptz NOT NULL);
      INSERT INTO "TradeLog" (user_id, symbol, status, size, executed_at)
        SELECT g % 20000, 'SYM' || (g % 500), (ARRAY['FILLED','PENDING','CANCELLED'])[1 + g % 3], g % 1000, now() - g * interval '1 second' FROM generate_series(1, ${ROWS}) g;
      CREATE INDEX "TradeLog_executed_at_idx" ON "TradeLog" (executed_at);`);
    for (let i = 0; i < TABLES; i++) {
      await db.query(`CREATE TABLE t${i} (id serial PRIMARY KEY, a int, b text, c timestamptz DEFAULT now());
        INSERT INTO t${i} (a, b) SELECT g % 100, 'b' || g FROM generate_series(1, 2000) g;
        CREATE INDEX ON t${i} (a); CREATE INDEX ON t${i} (a, b); CREATE INDEX ON t${i} (b);`);
    }
    await db.query('ANALYZE');
    console.log(`data: "TradeLog" ${ROWS} rows + ${TABLES} small tables with 3 indexes each (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    await db.query('SELECT pg_stat_statements_reset()');
    t = performance.now();
    for (let i = 0; i < 20; i++) {
      await db.query('SELECT id, size FROM "TradeLog" WHERE user_id = $1', [i]);
      await db.query('SELECT count(*) FROM "TradeLog" WHERE symbol = $1 AND status = $2', [`SYM${i}`, 'FILLED']);
      await db.query('SELECT * FROM "TradeLog" WHERE executed_at > now() - interval \'1 minute\' ORDER BY executed_at DESC LIMIT 20');
      await db.query('SELECT * FROM "TradeLog" WHERE id = $1', [i]);
      for (let k = 0; k < 10; k++) await db.query(`SELECT * FROM t${k} WHERE a = $1 AND b = $2`, [i, `b${i}`]);
    }
    await db.end();
    console.log(`workload: ${20 * 14} statements (${((performance.now() - t) / 1000).toFixed(1)} s)\n`);

    const config = resolveConfig({ flags: { databaseUrl: url }, env: {}, cwd: ROOT });
    const psql = await findPgTool('psql', { env: process.env });
    const cliEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' };
    const commands = [
      { name: 'debug-perf', run: () => debugPerf({ slowMs: 20, slowCalls: 100, limit: 20 }, { config, env: {} }), cli: ['debug-perf', '--json'] },
      { name: 'optimize', run: () => optimize({ minImprovement: 0.5, minCost: 100, minCalls: 10, limit: 50, maxColumnsPerTable: 6, useHypopg: true, apply: false, writeMigration: null }, { config, env: {} }), cli: ['optimize', '--json'] },
    ];
    const rows: string[][] = [];
    for (const c of commands) {
      recording = [];
      const first = await c.run();
      const recorded = recording;
      recording = null;
      const script = join(tmp, `${c.name}.sql`);
      writeFileSync(script, `${toScript(recorded)}\n`);
      const floor = await timeIt(() => execa(psql.path, ['-X', '-q', '-o', '/dev/null', '-d', url, '-f', script], { env: cliEnv, extendEnv: false }));
      // A second floor without psql's process start: the same statements from one fresh pg connection.
      const replay = await timeIt(async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          for (const q of recorded) await (originalQuery as any).call(client, q.text, q.values).catch(() => {});
        } finally {
          await client.end();
        }
      });
      const inProcess = await timeIt(() => c.run());
      const cli = await timeIt(() => execa('node', [join(ROOT, 'bin/axisor-db'), ...c.cli, '--database-url', url], { env: cliEnv, extendEnv: false, reject: false }));
      const summary = c.name === 'optimize' ? `${(first as any).suggestions.length} suggestion(s), ${(first as any).statements.length} statements planned` : `${(first as any).findings.length} findings`;
      rows.push([c.name, String(recorded.length), floor.toFixed(0), replay.toFixed(0), inProcess.toFixed(0), `${(inProcess / floor).toFixed(2)} / ${(inProcess / replay).toFixed(2)}`, cli.toFixed(0), `${(cli / floor).toFixed(2)} / ${(cli / replay).toFixed(2)}`, summary]);
    }
    const head = ['command', 'SQL stmts', 'psql ms', 'pg replay ms', 'in-process ms', 'ratio psql/pg', 'CLI ms', 'ratio psql/pg', 'result'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    console.log(`\nmedian of ${RUNS} runs each. Floors: psql -f replaying the recorded statements (process start included), and the same`);
    console.log('statements from one fresh pg connection. ratio = time / floor. CLI includes node start-up and module loading.');
  } finally {
    await cluster.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
