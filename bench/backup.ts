/**
 * Backup/restore benchmark: `npx tsx bench/backup.ts` (after `npm run build`).
 * On one seeded database (>= 5M "TradeLog" rows; created once and reused) it times, in the same run:
 *   our full backup vs pg_dump -Fd -j2 -Z0 (floor), our size vs plain+gzip (the design document's way),
 *   our restore vs pg_restore -j2, and an incremental after changing 1% of trade rows vs a full backup
 *   (on a throwaway wal_level=logical cluster loaded from our own backup).
 *   The incremental runs on data made by `axisor-db seed --users BENCH_SEED_USERS --trades-per-user 50` (100000: 5M trades).
 * BENCH_DATABASE_URL overrides the server (default: the local one); BENCH_ROWS the row count (default 5000000).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { startThrowawayCluster } from '../src/pgtools/index.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const PG_BIN = '/usr/lib/postgresql/15/bin';
const ADMIN = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000);
const DB = 'axisor_bench_backup';
/** Users seeded (x 50 trades) on the logical cluster for the incremental measure. */
const SEED_USERS = Number(process.env.BENCH_SEED_USERS ?? 100_000);
const withDb = (url: string, db: string) => url.replace(/\/[^/]*$/, `/${db}`);
const SRC = withDb(ADMIN, DB);

async function sql(url: string, text: string): Promise<any[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e9, r];
}

function du(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, n) => s + du(join(path, n)), 0);
}

async function cli(args: string[], url: string): Promise<any> {
  const r = await execa('node', [join(ROOT, 'bin/axisor-db'), ...args, '--database-url', url, '--json'], { reject: false, env: { ...process.env, DATABASE_URL: undefined }, extendEnv: false });
  if (r.exitCode !== 0) throw new Error(`axisor-db ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout).result;
}

async function seed(): Promise<void> {
  const have = await sql(ADMIN, `SELECT 1 FROM pg_database WHERE datname = '${DB}'`);
  if (have.length > 0) {
    const [{ n }] = await sql(SRC, `SELECT count(*)::int AS n FROM "TradeLog"`).catch(() => [{ n: 0 }]);
    if (n >= ROWS) return;
    await sql(ADMIN, `DROP DATABASE ${DB} WITH (FORCE)`);
  }
  console.log(`seeding ${DB} with ${ROWS} trade rows (once; reused by later runs)...`);
  await sql(ADMIN, `CREATE DATABASE ${DB}`);
  const migration = readdirSync(join(ROOT, 'prisma/migrations')).filter((d) => /^\d/.test(d)).sort()[0]!;
  await sql(SRC, readFileSync(join(ROOT, 'prisma/migrations', migration, 'migration.sql'), 'utf8'));
  await sql(SRC, `INSERT INTO "User"(id, email) SELECT 'u' || g, 'u' || g || '@example.com' FROM generate_series(1, 2000) g;
    INSERT INTO "UserExchangeAccount"(id, user_id, exchange_name, label, api_key_encrypted, api_secret_encrypted)
      SELECT 'a' || g, 'u' || g, 'LNMARKETS', 'main', md5(g::text), md5((g * 7)::text) FROM generate_series(1, 2000) g;`);
  await sql(SRC, `INSERT INTO "TradeLog"(user_id, exchange_account_id, type, symbol, side, size, price, leverage, pnl, fees, status, metadata, executed_at)
    SELECT 'u' || (g % 2000 + 1), 'a' || (g % 2000 + 1), CASE WHEN g % 5 = 0 THEN 'LIMIT' ELSE 'MARKET' END, 'BTCUSD',
           CASE WHEN g % 2 = 0 THEN 'BUY' ELSE 'SELL' END, (g % 997) / 13.0, 30000 + (g % 9973) + 0.12345678, 1 + g % 50,
           ((g % 2001) - 1000) / 3.0, (g % 97) / 1000.0, 'FILLED', jsonb_build_object('orderId', g, 'source', 'bench'),
           timestamptz '2024-01-01' + g * interval '6 seconds'
      FROM generate_series(1, ${ROWS}) g`);
  await sql(SRC, 'VACUUM ANALYZE');
}

const ratio = (a: number, b: number) => (a / b).toFixed(2);
const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;

async function main(): Promise<void> {
  await seed();
  const work = mkdtempSync(join(tmpdir(), 'axisor-bench-'));
  const made: string[] = [];
  try {
    const env = { ...process.env, PGPASSWORD: undefined };
    const [tFloor] = await timed(() => execa(`${PG_BIN}/pg_dump`, ['-Fd', '-j2', '-Z0', '-f', join(work, 'fd'), '-d', SRC], { env }));
    const [tGzip] = await timed(async () => {
      await execa(`${PG_BIN}/pg_dump`, ['-Fp', '-f', join(work, 'plain.sql'), '-d', SRC], { env });
      await execa('gzip', ['-6', join(work, 'plain.sql')]);
    });
    const gzipBytes = du(join(work, 'plain.sql.gz'));
    const [tOurs, ours] = await timed(() => cli(['backup', '--type', 'full', '--jobs', '2', '--no-chain', '--backup-dir', join(work, 'bk')], SRC));

    made.push('axisor_bench_pgr', 'axisor_bench_ours');
    await sql(ADMIN, 'DROP DATABASE IF EXISTS axisor_bench_pgr WITH (FORCE)');
    await sql(ADMIN, 'DROP DATABASE IF EXISTS axisor_bench_ours WITH (FORCE)');
    await sql(ADMIN, 'CREATE DATABASE axisor_bench_pgr');
    const [tPgr] = await timed(() => execa(`${PG_BIN}/pg_restore`, ['-j2', '--exit-on-error', '-d', withDb(ADMIN, 'axisor_bench_pgr'), join(work, 'fd')], { env }));
    const [tOursR] = await timed(() => cli(['restore', ours.id, '--target-db', 'axisor_bench_ours', '--jobs', '2', '--backup-dir', join(work, 'bk')], SRC));

    // Incremental: a throwaway logical cluster, loaded from our backup, then a full (chain start), 1% updates, an incremental.
    const [opl] = await sql(ADMIN, `SELECT 1 AS x FROM pg_settings WHERE name = 'output_plugin_libraries'`);
    const cluster = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'logical', max_wal_size: '4GB', shared_buffers: '512MB', ...(opl ? { output_plugin_libraries: 'pgoutput, test_decoding, wal2json' } : {}) } });
    let inc: { tFull: number; full: any; tInc: number; incr: any };
    try {
      // The data of `axisor-db seed` (5M trades at the default 100000 users x 50), as the issue asks.
      await sql(cluster.url, `CREATE DATABASE ${DB}`);
      const curl = withDb(cluster.url, DB);
      await cli(['migrate'], curl);
      await cli(['seed', '--users', String(SEED_USERS), '--trades-per-user', '50'], curl);
      await sql(curl, 'VACUUM ANALYZE');
      const [tFull, full] = await timed(() => cli(['backup', '--type', 'full', '--jobs', '2', '--backup-dir', join(work, 'bk2')], curl));
      await sql(curl, `UPDATE "TradeLog" SET status = 'SETTLED', pnl = pnl + 1 WHERE ctid IN (SELECT ctid FROM "TradeLog" TABLESAMPLE SYSTEM (1))`);
      const [tInc, incr] = await timed(() => cli(['backup', '--type', 'incremental', '--backup-dir', join(work, 'bk2')], curl));
      inc = { tFull, full, tInc, incr };
    } finally {
      await cluster.stop();
    }

    const rows: Array<[string, string, string, string, string]> = [
      ['full backup time', `${tOurs.toFixed(1)} s`, `pg_dump -Fd -j2 -Z0: ${tFloor.toFixed(1)} s`, ratio(tOurs, tFloor), '<= 1.25'],
      ['full backup size', mb(ours.bytes), `plain+gzip: ${mb(gzipBytes)} (${tGzip.toFixed(1)} s)`, ratio(ours.bytes, gzipBytes), '<= 0.60'],
      ['restore time', `${tOursR.toFixed(1)} s`, `pg_restore -j2: ${tPgr.toFixed(1)} s`, ratio(tOursR, tPgr), '<= 1.10'],
      [`incremental time (${inc.incr.changes.updates} updates)`, `${inc.tInc.toFixed(1)} s`, `full: ${inc.tFull.toFixed(1)} s`, ratio(inc.tInc, inc.tFull), '<= 0.05'],
      ['incremental size', mb(inc.incr.bytes), `full: ${mb(inc.full.bytes)}`, ratio(inc.incr.bytes, inc.full.bytes), '<= 0.05'],
    ];
    console.log(`\nload average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared CPUs: compare ratios, not seconds)`);
    console.log(`\n${ROWS} trade rows; -Fd -Z0 dump is ${mb(du(join(work, 'fd')))}; ${ours.tables} tables, ${ours.rows} rows\n`);
    console.log(['measure'.padEnd(36), 'axisor-db'.padEnd(12), 'baseline'.padEnd(36), 'ratio'.padEnd(7), 'target'].join(' '));
    for (const r of rows) console.log([r[0].padEnd(36), r[1].padEnd(12), r[2].padEnd(36), r[3].padEnd(7), r[4]].join(' '));
  } finally {
    for (const d of made) await sql(ADMIN, `DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
