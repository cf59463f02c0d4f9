/**
 * Backup/restore benchmark: `npx tsx bench/backup.ts` (after `npm run build`).
 * On one database built by `axisor-db migrate` + `axisor-db seed` (realistic rows: text UUID keys, jsonb, 5M
 * "TradeLog" rows by default; created once and reused) it times, in the same run and best of BENCH_RUNS (3),
 * interleaved (ours, baseline, ours, baseline, ...), each run after a sync and a CHECKPOINT, with the load average
 * and the machine's busy CPU seconds next to every figure:
 *   our full backup vs pg_dump -Fd -j2 -Z0 (the floor) and vs pg_dump -Fc (one process, gzip), and the sizes;
 *   our restore vs pg_restore -j2 of the -Fd dump;
 *   an incremental after changing 1% of trade rows vs a full backup (on a throwaway wal_level=logical cluster
 *   loaded from our own backup).
 * BENCH_DATABASE_URL overrides the server (default: the local one); BENCH_USERS the seeded users (default 100000,
 * 50 trades each); BENCH_DB the database name; BENCH_SKIP_INCREMENTAL=1 leaves the incremental rows out.
 */
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { findPgTool, startThrowawayCluster } from '../src/pgtools/index.ts';
import { ADMIN, cli, ensureSeededDatabase, settle, sql, timed, withDb } from './seeded-db.ts';

// The baselines run the programs our backup runs: PG_BIN, then PATH, then /usr/lib/postgresql/<newest>/bin.
const PG_DUMP = (await findPgTool('pg_dump', { env: process.env })).path;
const PG_RESTORE = (await findPgTool('pg_restore', { env: process.env })).path;
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const TRADES_PER_USER = 50;
const ROWS = USERS * TRADES_PER_USER;
const DB = process.env.BENCH_DB ?? 'axisor_bench_backup';
// Timed runs of each kind, interleaved; the best counts (BENCH_RUNS, default 3).
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const SRC = withDb(ADMIN, DB);
// Restore targets named per run: several sessions may run this bench on one server at once.
const OURS_DB = `axisor_bench_ours_${process.pid}`;
const PGR_DB = `axisor_bench_pgr_${process.pid}`;

function du(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, n) => s + du(join(path, n)), 0);
}

const ratio = (a: number, b: number) => (a / b).toFixed(2);
const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
const best = <T extends { t: number }>(xs: T[]) => xs.reduce((a, b) => (b.t < a.t ? b : a));

async function main(): Promise<void> {
  await ensureSeededDatabase(DB, USERS, TRADES_PER_USER);
  const work = mkdtempSync(join(tmpdir(), 'axisor-bench-'));
  const made: string[] = [];
  const env = { ...process.env, PGPASSWORD: undefined };
  try {
    // Backups, interleaved: ours, -Fd -j2 -Z0, -Fc, twice.
    const oursB: Array<{ t: number; r: any; l: string }> = [];
    const fd: Array<{ t: number; l: string }> = [];
    const fc: Array<{ t: number; l: string }> = [];
    for (let i = 0; i < RUNS; i++) {
      rmSync(join(work, 'bk'), { recursive: true, force: true });
      await settle(ADMIN);
      const [t, r, l] = await timed(() => cli(['backup', '--type', 'full', '--jobs', '2', '--no-chain', '--backup-dir', join(work, 'bk')], SRC));
      oursB.push({ t, r, l });
      rmSync(join(work, 'fd'), { recursive: true, force: true });
      await settle(ADMIN);
      const [t2, , l2] = await timed(() => execa(PG_DUMP, ['-Fd', '-j2', '-Z0', '-f', join(work, 'fd'), '-d', SRC], { env }));
      fd.push({ t: t2, l: l2 });
      rmSync(join(work, 'fc.dump'), { force: true });
      await settle(ADMIN);
      const [t3, , l3] = await timed(() => execa(PG_DUMP, ['-Fc', '-f', join(work, 'fc.dump'), '-d', SRC], { env }));
      fc.push({ t: t3, l: l3 });
    }
    const ours = oursB[oursB.length - 1]!.r; // the backup left on disk
    const fcBytes = du(join(work, 'fc.dump'));

    // Restores, interleaved: ours, pg_restore -j2 of the -Fd dump, RUNS times. Each restored database is dropped
    // right after its run: left behind, its autovacuum (pg_restore's tables are not frozen: a VACUUM rewrites every
    // page) would run during the next run of the other side. After the last run of each, VACUUM ANALYZE of the
    // restored database is timed too: what is left to do before the database is as ready as its source.
    made.push(PGR_DB, OURS_DB);
    const oursR: Array<{ t: number; r: any; l: string }> = [];
    const pgr: Array<{ t: number; l: string }> = [];
    const vacuum: { ours: number; pgr: number } = { ours: 0, pgr: 0 };
    const vacuumAnalyze = async (db: string) => (await timed(() => sql(withDb(ADMIN, db), 'VACUUM ANALYZE')))[0];
    for (let i = 0; i < RUNS; i++) {
      const last = i === RUNS - 1;
      await sql(ADMIN, `DROP DATABASE IF EXISTS ${OURS_DB} WITH (FORCE)`);
      await settle(ADMIN);
      const [t, r, l] = await timed(() => cli(['restore', ours.id, '--target-db', OURS_DB, '--jobs', '2', '--backup-dir', join(work, 'bk')], SRC));
      oursR.push({ t, r, l });
      if (last) vacuum.ours = await vacuumAnalyze(OURS_DB);
      await sql(ADMIN, `DROP DATABASE IF EXISTS ${OURS_DB} WITH (FORCE)`);
      await sql(ADMIN, `DROP DATABASE IF EXISTS ${PGR_DB} WITH (FORCE)`);
      await sql(ADMIN, `CREATE DATABASE ${PGR_DB}`);
      await settle(ADMIN);
      const [t2, , l2] = await timed(() => execa(PG_RESTORE, ['-j2', '--exit-on-error', '-d', withDb(ADMIN, PGR_DB), join(work, 'fd')], { env }));
      pgr.push({ t: t2, l: l2 });
      if (last) vacuum.pgr = await vacuumAnalyze(PGR_DB);
      await sql(ADMIN, `DROP DATABASE IF EXISTS ${PGR_DB} WITH (FORCE)`);
    }

    // Incremental: a throwaway logical cluster, loaded from our backup, then a full (chain start), 1% updates, an incremental.
    const [opl] = await sql(ADMIN, `SELECT 1 AS x FROM pg_settings WHERE name = 'output_plugin_libraries'`);
    const cluster = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'logical', max_wal_size: '4GB', shared_buffers: '512MB', ...(opl ? { output_plugin_libraries: 'pgoutput, test_decoding, wal2json' } : {}) } });
    let inc: { tFull: number; full: any; tInc: number; incr: any } | null = null;
    if (process.env.BENCH_SKIP_INCREMENTAL !== '1') try {
      await cli(['restore', ours.id, '--target-db', DB, '--jobs', '2', '--backup-dir', join(work, 'bk')], cluster.url);
      const curl = withDb(cluster.url, DB);
      await sql(curl, 'VACUUM ANALYZE');
      const [tFull, full] = await timed(() => cli(['backup', '--type', 'full', '--jobs', '2', '--backup-dir', join(work, 'bk2')], curl));
      await sql(curl, `UPDATE "TradeLog" SET status = 'SETTLED', pnl = pnl + 1 WHERE ctid IN (SELECT ctid FROM "TradeLog" TABLESAMPLE SYSTEM (1))`);
      const [tInc, incr] = await timed(() => cli(['backup', '--type', 'incremental', '--backup-dir', join(work, 'bk2')], curl));
      inc = { tFull, full, tInc, incr };
    } finally {
      await cluster.stop();
    }

    const bB = best(oursB);
    const bFd = best(fd);
    const bFc = best(fc);
    const bR = best(oursR);
    const bPgr = best(pgr);
    const all = (xs: Array<{ t: number; l: string }>) => xs.map((x) => `${x.t.toFixed(1)} s (${x.l})`).join(', ');
    const rows: Array<[string, string, string, string, string]> = [
      ['full backup time', `${bB.t.toFixed(1)} s`, `pg_dump -Fd -j2 -Z0: ${bFd.t.toFixed(1)} s`, ratio(bB.t, bFd.t), '<= 1.00'],
      ['full backup time vs -Fc', `${bB.t.toFixed(1)} s`, `pg_dump -Fc: ${bFc.t.toFixed(1)} s`, ratio(bB.t, bFc.t), ''],
      ['full backup size', mb(ours.bytes), `pg_dump -Fc: ${mb(fcBytes)}`, ratio(ours.bytes, fcBytes), '<= 1.00'],
      ['restore time', `${bR.t.toFixed(1)} s`, `pg_restore -j2: ${bPgr.t.toFixed(1)} s`, ratio(bR.t, bPgr.t), '<= 0.90'],
      ['then VACUUM ANALYZE (last run)', `${vacuum.ours.toFixed(1)} s`, `after pg_restore: ${vacuum.pgr.toFixed(1)} s`, ratio(vacuum.ours, vacuum.pgr), ''],
      ...(inc ? [
        [`incremental time (${inc.incr.changes.updates} updates)`, `${inc.tInc.toFixed(1)} s`, `full: ${inc.tFull.toFixed(1)} s`, ratio(inc.tInc, inc.tFull), '<= 0.05'],
        ['incremental size', mb(inc.incr.bytes), `full: ${mb(inc.full.bytes)}`, ratio(inc.incr.bytes, inc.full.bytes), '<= 0.05'],
      ] as Array<[string, string, string, string, string]> : []),
    ];
    console.log(`\n${ROWS} trade rows (axisor-db seed); -Fd -Z0 dump is ${mb(du(join(work, 'fd')))}; ${ours.tables} tables, ${ours.rows} rows\n`);
    console.log(['measure'.padEnd(36), 'axisor-db'.padEnd(12), 'baseline'.padEnd(36), 'ratio'.padEnd(7), 'target'].join(' '));
    for (const r of rows) console.log([r[0].padEnd(36), r[1].padEnd(12), r[2].padEnd(36), r[3].padEnd(7), r[4]].join(' '));
    console.log(`\nall runs: ours backup ${all(oursB)}; -Fd ${all(fd)}; -Fc ${all(fc)}`);
    console.log(`          ours restore ${all(oursR)}; pg_restore ${all(pgr)}`);
    console.log(`phases of the best backup: ${JSON.stringify(bB.r.phases)}`);
    console.log(`phases of the best restore: ${JSON.stringify(bR.r.phases)}`);
  } finally {
    for (const d of made) await sql(ADMIN, `DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
