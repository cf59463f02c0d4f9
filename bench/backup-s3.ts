/**
 * Backup and restore to S3 vs a local directory, with and without encryption: `npx tsx bench/backup-s3.ts`
 * (after `npm run build`). One database made by `axisor-db migrate` + `axisor-db seed --users BENCH_S3_USERS`
 * (default 20000 x 50 trades = 1M "TradeLog" rows; created once in axisor_bench_s3 and reused), an s3rver on loopback in its own process (as the tests), the CLI as a user runs it:
 * `backup --type full --no-chain` and `restore` (into a fresh database each time), for each of local, local+enc,
 * s3, s3+enc (BENCH_S3_ROUNDS interleaved rounds, default 3, best kept). Prints seconds, the ratio to local (with encryption: to local+enc too) and the peak RSS of the
 * backup process (GNU time). s3rver stores on the same disk, so S3 figures measure the protocol path.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startS3ServerProcess } from '../test/helpers/s3-server.ts';
import { ADMIN, ensureSeededDatabase, ROOT, sql, withDb } from './seeded-db.ts';

const USERS = Number(process.env.BENCH_S3_USERS ?? 20_000);
const DB = 'axisor_bench_s3';
const ROUNDS = Number(process.env.BENCH_S3_ROUNDS ?? 3);
const SRC = withDb(ADMIN, DB);

async function cli(args: string[], env: Record<string, string | undefined>): Promise<{ result: any; seconds: number; maxRssMiB: number | null }> {
  const t = process.hrtime.bigint();
  const r = await execa('/usr/bin/time', ['-f', '%M', 'node', join(ROOT, 'bin/axisor-db'), ...args, '--database-url', SRC, '--json'], {
    reject: false, env: { ...process.env, DATABASE_URL: undefined, ...env }, extendEnv: false,
  });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.exitCode !== 0) throw new Error(`axisor-db ${args.join(' ')} failed (${r.exitCode}): ${r.stdout} ${r.stderr}`);
  const rss = Number(/(\d+)\s*$/.exec(r.stderr)?.[1]);
  return { result: JSON.parse(r.stdout).result, seconds, maxRssMiB: Number.isFinite(rss) ? rss / 1024 : null };
}

await ensureSeededDatabase(DB, USERS);
const work = mkdtempSync(join(tmpdir(), 'axisor-bench-s3-'));
const key = join(work, 'bench.key');
writeFileSync(key, randomBytes(32).toString('hex'), { mode: 0o600 });
const s3 = await startS3ServerProcess(['bench-backups']);
const rows: Array<{ label: string; backup: number; restore: number; bytes: number; rss: number | null }> = [];
try {
  const targets: Array<[string, string, boolean]> = [
    ['local', join(work, 'local'), false], ['local+enc', join(work, 'local-enc'), true],
    ['s3', 's3://bench-backups/plain', false], ['s3+enc', 's3://bench-backups/enc', true],
  ];
  // Rounds interleave the four targets (the machine's load drifts); each figure is the best of BENCH_S3_ROUNDS.
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, dir, enc] of targets) {
      const env = { ...s3.env(), AXISOR_BACKUP_DIR: dir, ...(enc ? { AXISOR_BACKUP_KEY_FILE: key } : {}) };
      const b = await cli(['backup', '--type', 'full', '--no-chain'], env);
      const target = `axisor_bench_s3_r_${label.replace(/\W/g, '_')}`;
      await sql(ADMIN, `DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
      const r = await cli(['restore', b.result.id, '--target-db', target], env);
      await sql(ADMIN, `DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
      const prev = rows.find((x) => x.label === label);
      if (!prev) rows.push({ label, backup: b.seconds, restore: r.seconds, bytes: b.result.bytes, rss: b.maxRssMiB });
      else Object.assign(prev, { backup: Math.min(prev.backup, b.seconds), restore: Math.min(prev.restore, r.seconds), rss: Math.max(prev.rss ?? 0, b.maxRssMiB ?? 0) });
    }
  }
} finally {
  await s3.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`${USERS * 50} trade rows (axisor-db seed), best of ${ROUNDS} interleaved rounds; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 shared CPUs)`);
console.log('target        backup s   vs local   restore s   vs local   stored MB   backup peak RSS MiB');
const local = rows.find((r) => r.label === 'local')!;
for (const r of rows) {
  console.log(`${r.label.padEnd(12)}  ${r.backup.toFixed(1).padStart(8)}   ${(r.backup / local.backup).toFixed(2).padStart(7)}x   ${r.restore.toFixed(1).padStart(9)}   ${(r.restore / local.restore).toFixed(2).padStart(7)}x   ${(r.bytes / 1e6).toFixed(1).padStart(9)}   ${r.rss?.toFixed(0) ?? '?'}`);
}
