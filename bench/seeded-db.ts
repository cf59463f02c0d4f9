/**
 * What the backup benchmarks share: a database built by `axisor-db migrate` + `axisor-db seed` (the real shape: text
 * UUID keys, jsonb), created once under a fixed name and reused while it holds enough trades. Benchmarks never run
 * on generate_series rows: that shape hid a 2x gap once.
 */
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

/** Runs fn, returning seconds and the 1-minute load average at the start and end. */
export async function timed<T>(fn: () => Promise<T>): Promise<[number, T, string]> {
  const l0 = load();
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e9, r, `load ${l0}->${load()}`];
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
