/**
 * What the backup benchmarks share: a database built by `axisor-db migrate` + `axisor-db seed` (the real shape: text
 * UUID keys, jsonb), created once under a fixed name and reused while it holds enough trades. Benchmarks never run
 * on generate_series rows: that shape hid a 2x gap once.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';

export const ROOT = new URL('..', import.meta.url).pathname;
export const ADMIN = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const withDb = (url: string, db: string) => url.replace(/\/[^/]*$/, `/${db}`);

export async function sql(url: string, text: string): Promise<any[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

export const load = () => loadavg()[0]!.toFixed(2);

/** CPU seconds the whole machine spent busy so far (/proc/stat: all but idle and iowait), or null off Linux. */
function busyCpuSeconds(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) / 100;
  } catch {
    return null;
  }
}

/**
 * CPU seconds (user + system) of this process's finished children and their own waited-for children
 * (/proc/self/stat cutime + cstime), or null off Linux. A timed command is one child: our CLI with its zstd and
 * pg_restore processes, or pg_dump/pg_restore with their -j workers. What it does not include is the server.
 */
function childCpuSeconds(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100; // fields 16 and 17 of proc(5), counted from the state field
  } catch {
    return null;
  }
}

/**
 * Runs fn, returning seconds and a note: the 1-minute load average at the start and end, the CPU seconds the
 * machine spent busy meanwhile (server, client and kernel together: on a 2-CPU machine the ratio that bounds
 * wall time when both sides are CPU-bound), and of those the client's (the command's process tree; the rest is
 * mostly the server).
 */
export async function timed<T>(fn: () => Promise<T>): Promise<[number, T, string]> {
  const l0 = load();
  const c0 = busyCpuSeconds();
  const k0 = childCpuSeconds();
  const t = process.hrtime.bigint();
  const r = await fn();
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  const c1 = busyCpuSeconds();
  const k1 = childCpuSeconds();
  const busy = c0 !== null && c1 !== null ? `, ${(c1 - c0).toFixed(1)} CPU-s` : '';
  const client = k0 !== null && k1 !== null ? ` (client ${(k1 - k0).toFixed(1)})` : '';
  return [secs, r, `load ${l0}->${load()}${busy}${busy ? client : ''}`];
}

/**
 * Before each timed run: the previous run's dirty pages written out (sync) and a CHECKPOINT, so a run does not pay
 * for the writeback of the one before it (restores leave about 3 GB of data and WAL behind; without this the same
 * restore measured 28-35 s).
 */
export async function settle(url: string): Promise<void> {
  await execa('sync', [], { reject: false });
  await sql(url, 'CHECKPOINT').catch(() => {});
}

/** The built CLI with --json; returns `result`, throws with stderr on a non-zero exit. */
export async function cli(args: string[], url: string): Promise<any> {
  const r = await execa('node', [join(ROOT, 'bin/axisor-db'), ...args, '--database-url', url, '--json'], { reject: false, env: { ...process.env, DATABASE_URL: undefined }, extendEnv: false });
  if (r.exitCode !== 0) throw new Error(`axisor-db ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout).result;
}

/** Makes sure `db` holds `users` x `tradesPerUser` seeded trades (re-seeding when it holds fewer); returns its URL. */
export async function ensureSeededDatabase(db: string, users: number, tradesPerUser = 50): Promise<string> {
  const url = withDb(ADMIN, db);
  const have = await sql(ADMIN, `SELECT 1 FROM pg_database WHERE datname = '${db}'`);
  if (have.length > 0) {
    const [{ n }] = await sql(url, `SELECT count(*)::int AS n FROM "TradeLog"`).catch(() => [{ n: 0 }]);
    if (n >= users * tradesPerUser) return url;
    await sql(ADMIN, `DROP DATABASE ${db} WITH (FORCE)`);
  }
  console.log(`seeding ${db}: axisor-db seed --users ${users} --trades-per-user ${tradesPerUser} (once; reused by later runs)...`);
  await sql(ADMIN, `CREATE DATABASE ${db}`);
  await cli(['migrate'], url);
  const [t, r, l] = await timed(() => cli(['seed', '--users', String(users), '--trades-per-user', String(tradesPerUser)], url));
  console.log(`seed: ${r.totalRows} rows in ${t.toFixed(1)} s (${r.rowsPerSecond} rows/s; copy ${(r.copyMs / 1000).toFixed(1)} s, rebuild ${(r.rebuildMs / 1000).toFixed(1)} s, analyze ${(r.analyzeMs / 1000).toFixed(1)} s; ${l})`);
  await sql(url, 'VACUUM ANALYZE');
  return url;
}
