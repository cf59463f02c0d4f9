/**
 * migrate benchmark: the migrate_user_preferences backfill run by `axisor-db migrate` (keyset batches, one
 * INSERT ... SELECT per batch, one transaction) against the floor: the same backfill as ONE bare
 * INSERT ... SELECT in psql. Also the design document's approach (findMany, then one INSERT per user) on a
 * sample, extrapolated. Peak RSS of our process shows memory does not grow with the table.
 *
 *   npm run build && npx tsx bench/migrate.ts          # 200k users (builds axisor_bench_migrate, ~10 s; ~2 min in all)
 *   USERS=1000000 BATCHES=1000,5000,20000 npx tsx bench/migrate.ts      KEEP=1 keeps the database
 *
 * Local PostgreSQL: BENCH_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { findPgTool } from '../src/pgtools/find.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'axisor_bench_migrate';
const USERS = Number(process.env.USERS ?? 200_000);
const BATCHES = (process.env.BATCHES ?? '1000,5000,50000').split(',').map(Number);
const SAMPLE = Number(process.env.ROW_BY_ROW_SAMPLE ?? 20_000);
const url = (() => { const u = new URL(ADMIN); u.pathname = `/${DB}`; return u.toString(); })();
const psql = (await findPgTool('psql', { env: process.env })).path;
const MIGRATIONS = join(ROOT, 'prisma', 'migrations');
const INIT = readdirSync(MIGRATIONS).find((d) => d.endsWith('_init'))!;
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^PG|^DATABASE_URL$|^AXISOR_|^NODE_OPTIONS$/.test(k)));

async function sql(target: string, text: string, params: unknown[] = []): Promise<any[]> {
  const c = new pg.Client({ connectionString: target });
  await c.connect();
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}

async function psqlRun(args: string[]): Promise<void> {
  const r = await execa(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args], { reject: false, env: CLEAN_ENV, extendEnv: false });
  if (r.exitCode !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

async function cli(args: string[]) {
  // /usr/bin/time -f %M gives the peak RSS (KiB) of our process.
  const useTime = existsSync('/usr/bin/time');
  const cmd = useTime ? '/usr/bin/time' : join(ROOT, 'bin', 'axisor-db');
  const argv = useTime ? ['-f', 'peak-rss-kib=%M', join(ROOT, 'bin', 'axisor-db'), ...args] : args;
  const r = await execa(cmd, argv, { reject: false, env: { ...CLEAN_ENV, NO_COLOR: '1' }, extendEnv: false });
  if (r.exitCode !== 0) throw new Error(`axisor-db ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  const rss = /peak-rss-kib=(\d+)/.exec(String(r.stderr))?.[1];
  return { json: JSON.parse(String(r.stdout)), rssMb: rss ? Number(rss) / 1024 : NaN };
}

async function ensureData(): Promise<void> {
  const exists = (await sql(ADMIN, 'SELECT 1 FROM pg_database WHERE datname = $1', [DB])).length > 0;
  if (exists && !process.env.REBUILD) {
    const [{ n }] = await sql(url, 'SELECT count(*)::int AS n FROM "User"');
    if (n === USERS) return;
  }
  await sql(ADMIN, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await sql(ADMIN, `CREATE DATABASE ${DB}`);
  const t0 = Date.now();
  await psqlRun(['-f', join(MIGRATIONS, INIT, 'migration.sql')]);
  await cli(['migrate', 'resolve', '--applied', INIT, '--database-url', url, '--migrations-dir', MIGRATIONS, '--json']);
  await psqlRun(['-c', `INSERT INTO "User" (email) SELECT 'user' || g || '@example.test' FROM generate_series(1, ${USERS}) g`, '-c', 'VACUUM ANALYZE "User"']);
  console.log(`built ${DB} with ${USERS} users in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

async function reset(): Promise<void> {
  await psqlRun(['-c', 'TRUNCATE "UserPreferences"', '-c', 'DROP TABLE IF EXISTS axisor_data_migrations', '-c', 'CHECKPOINT']);
}

const FLOOR = `INSERT INTO "UserPreferences" (user_id) SELECT u.id FROM "User" u
  WHERE NOT EXISTS (SELECT 1 FROM "UserPreferences" p WHERE p.user_id = u.id) ON CONFLICT (user_id) DO NOTHING`;

async function floor(): Promise<number> {
  await reset();
  const t0 = performance.now();
  await psqlRun(['-c', FLOOR]);
  return (performance.now() - t0) / 1000;
}

async function ours(batch: number) {
  await reset();
  const t0 = performance.now();
  const r = await cli(['migrate', '--batch-size', String(batch), '--database-url', url, '--migrations-dir', MIGRATIONS, '--json']);
  const wall = (performance.now() - t0) / 1000;
  const m = r.json.result.dataMigrations.applied.find((a: any) => a.version === 1);
  if (m.rowsChanged !== USERS) throw new Error(`expected ${USERS} rows, got ${m.rowsChanged}`);
  return { wall, inDb: m.durationMs / 1000, batches: m.batches, rssMb: r.rssMb };
}

/** The design document's shape: load every user without preferences, then one INSERT per user (on a sample). */
async function rowByRow(): Promise<number> {
  await reset();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const t0 = performance.now();
    const { rows } = await c.query(`SELECT u.id FROM "User" u WHERE NOT EXISTS (SELECT 1 FROM "UserPreferences" p WHERE p.user_id = u.id) LIMIT ${SAMPLE}`);
    for (const r of rows) await c.query('INSERT INTO "UserPreferences" (user_id) VALUES ($1)', [r.id]);
    return ((performance.now() - t0) / 1000) * (USERS / SAMPLE);
  } finally {
    await c.end();
  }
}

await ensureData();
const floorS = Math.min(await floor(), await floor());
console.log(`\nbackfill of ${USERS.toLocaleString()} users' preferences (best of 2 for the floor)`);
console.log(`floor: one bare INSERT ... SELECT in psql            ${floorS.toFixed(2)} s`);
for (const b of BATCHES) {
  const r = await ours(b);
  console.log(`axisor-db migrate --batch-size ${String(b).padEnd(6)} ${String(r.batches).padStart(5)} batches  ${r.wall.toFixed(2)} s wall (${r.inDb.toFixed(2)} s in the transaction)  ratio ${(r.wall / floorS).toFixed(2)}x  peak RSS ${r.rssMb.toFixed(0)} MB`);
}
const rb = await rowByRow();
console.log(`design document's row-by-row INSERTs (extrapolated from ${SAMPLE.toLocaleString()})  ${rb.toFixed(1)} s  ratio ${(rb / floorS).toFixed(1)}x`);
if (!process.env.KEEP) await sql(ADMIN, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
