import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { advisoryKey } from '../../src/db/advisory-lock.ts';
import { backupLockKey } from '../../src/backup/service.ts';
import { startThrowawayCluster } from '../../src/pgtools/index.ts';
import { spawnCli } from '../helpers/cli.ts';
import { type TestDatabase } from '../helpers/db.ts';
import { cli, FIXTURE_DATA_SQL, FIXTURE_SQL, q, createBackupSource, removeBackupTestLeftovers } from '../helpers/backup.ts';
import { waitFor } from '../helpers/wait.ts';
import type { BackupResult, ListResult } from '../helpers/results.ts';

let src: TestDatabase;
let dir: string;

beforeAll(async () => {
  ({ src, dir } = await createBackupSource('bksafe'));
  await q(src.url, `INSERT INTO "TradeLog"(user_id, size, note) SELECT 'u' || (g % 50 + 1), g, repeat('x', 200) FROM generate_series(1, 20000) g`);
});

afterAll(() => removeBackupTestLeftovers({ src, dirs: [dir] }));

test('SIGKILL at random points never leaves a listed backup that fails verify', async () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 10; i++) {
    const child = spawnCli(['backup', '--database-url', src.url, '--backup-dir', dir, '--quiet']);
    const delay = 150 + Math.floor(rand() * 1600);
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    await child;
    clearTimeout(timer);
  }
  const list = await cli<ListResult>(['backup', 'list'], src.url, dir);
  const listed: Array<{ id: string; problem: string | null }> = list.json.result.backups;
  expect(listed.every((b) => b.problem === null)).toBe(true);
  for (const b of listed) {
    const v = await cli(['backup', 'verify', b.id, ...(b === listed[0] ? [] : ['--no-drill'])], src.url, dir);
    expect({ id: b.id, exitCode: v.exitCode }).toEqual({ id: b.id, exitCode: 0 });
  }
  // The next run removes the dead runs' temporary directories.
  const next = await cli(['backup'], src.url, dir);
  expect(next.exitCode).toBe(0);
  expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
});

test('a second backup of the same database waits (--wait) or fails with the lock code', async () => {
  const holder = new pg.Client({ connectionString: src.url });
  await holder.connect();
  const key = advisoryKey(backupLockKey(src.name)).toString();
  try {
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    const busy = await cli(['backup'], src.url, dir);
    expect(busy.exitCode).toBe(75);
    expect(busy.json.error.code).toBe('lock.held');
    const waiting = cli(['backup', '--wait', '20'], src.url, dir);
    // Release only once the second backup has tried the lock and is polling for it.
    await waitFor('the second backup to wait for the lock', async () => (await q(src.url,
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'axisor-db backup' AND query LIKE '%pg_try_advisory_lock%'`)).length > 0);
    await holder.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    expect((await waiting).exitCode).toBe(0);
  } finally {
    await holder.end();
  }
  const both = await Promise.all([cli<BackupResult>(['backup'], src.url, dir), cli<BackupResult>(['backup'], src.url, dir)]);
  const codes = both.map((r) => r.exitCode).sort();
  expect(codes[0]).toBe(0);
  expect([0, 75]).toContain(codes[1]);
  for (const r of both.filter((x) => x.exitCode === 0)) {
    expect((await cli(['backup', 'verify', r.json.result.id, '--no-drill'], src.url, dir)).exitCode).toBe(0);
  }
});

test('the password never appears on a command line or in a tool\'s environment during backup and restore', async () => {
  const password = `S3cret-${Date.now()}-pw`;
  const cluster = await startThrowawayCluster({ env: process.env, auth: 'scram', superuserPassword: password });
  const pdir = mkdtempSync(join(tmpdir(), 'axisor-bk-pw-'));
  try {
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/postgres`;
    await q(url, 'CREATE DATABASE shop');
    const shop = url.replace(/\/postgres$/, '/shop');
    await q(shop, FIXTURE_SQL);
    await q(shop, FIXTURE_DATA_SQL);
    const noPw = await spawnCli(['backup', '--backup-dir', pdir, '--json'], { env: { DATABASE_URL: shop.replace(`:${encodeURIComponent(password)}@`, '@') } });
    expect(noPw.exitCode).toBe(68);
    const seen: string[] = [];
    let running = true;
    const poll = (async () => {
      while (running) {
        const ps = await execa('ps', ['-eo', 'pid,comm,args'], { reject: false });
        seen.push(ps.stdout);
        for (const line of ps.stdout.split('\n')) {
          const [pid, comm] = line.trim().split(/\s+/);
          if (!/^(psql|pg_dump|pg_restore|zstd)$/.test(comm ?? '')) continue;
          try {
            seen.push(readFileSync(`/proc/${pid}/environ`, 'utf8'));
          } catch {
            /* exited */
          }
        }
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    const env = { DATABASE_URL: shop };
    const b = await spawnCli(['backup', '--backup-dir', pdir, '--json'], { env });
    const r = await spawnCli(['restore', '--latest', '--target-db', 'copy', '--backup-dir', pdir, '--json'], { env });
    running = false;
    await poll;
    expect(b.exitCode).toBe(0);
    expect(r.exitCode).toBe(0);
    expect(seen.some((s) => /pg_dump|psql/.test(s))).toBe(true);
    expect(seen.filter((s) => s.includes(password) || s.includes(encodeURIComponent(password)))).toEqual([]);
    expect(b.stdout + b.stderr + r.stdout + r.stderr).not.toContain(password);
  } finally {
    await cluster.stop();
    rmSync(pdir, { recursive: true, force: true });
  }
});
