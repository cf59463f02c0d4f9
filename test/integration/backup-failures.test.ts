import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { cliEnv, ROOT } from '../helpers/cli.ts';
import { ADMIN_URL } from '../helpers/db.ts';
import { type TestDatabase } from '../helpers/db.ts';
import { cli, FIXTURE_DATA_SQL, FIXTURE_SQL, q, createBackupSource, removeBackupTestLeftovers } from '../helpers/backup.ts';
import type { BackupResult, VerifyResult } from '../helpers/results.ts';

// Issue 12: a full disk, an unwritable directory and a file as --backup-dir have their documented exit codes
// (74, 73, 73) and say what is wrong, instead of "internal error, this is a bug" (70) with a stack trace.
let src: TestDatabase;
let work: string;
const mounts: string[] = [];

/** A small tmpfs (we run as root in CI): the only way to get a real ENOSPC without filling a real disk. */
async function smallDisk(name: string, size: string): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

beforeAll(async () => {
  ({ src, dir: work } = await createBackupSource('bkfail'));
  // Hard to compress (md5 text): the backup is several MB.
  await q(src.url, `INSERT INTO "TradeLog"(user_id, size, note) SELECT 'u' || (g % 50 + 1), g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 150000) g`);
});

afterAll(async () => {
  for (const m of mounts) await execa('umount', ['-l', m], { reject: false });
  await removeBackupTestLeftovers({ src, dirs: [work] });
});

const expectNoStack = (stderr: string) => {
  expect(stderr).not.toMatch(/this is a bug|^\s+at /m);
};

test('a full disk during a full backup is 74 with free and needed space, warned before it starts; nothing is published', async () => {
  const disk = await smallDisk('full', '1m');
  const r = await cli(['backup', '--no-chain'], src.url, disk);
  expect(r.exitCode).toBe(74);
  expect(r.json.ok).toBe(false);
  expect(r.json.error.code).toBe('no_space.disk_full');
  expect(r.json.error.message).toMatch(/free; it needs about/);
  expect(r.json.error.details!.freeBytes).toBeLessThan(1024 * 1024);
  expect(r.json.error.details!.needBytes).toBeGreaterThan(1024 * 1024);
  expect(r.stderr).toMatch(/warning: the backup needs about .* but only .* is free/);
  expectNoStack(r.stderr);
  expect(readdirSync(disk)).toEqual([]);
});

test('a backup directory that is a file is 73, naming it', async () => {
  const file = join(work, 'not-a-dir');
  writeFileSync(file, 'x');
  const r = await cli(['backup'], src.url, file);
  expect(r.exitCode).toBe(73);
  expect(r.json.error.code).toBe('path.not_a_directory');
  expect(r.json.error.message).toContain(file);
  expectNoStack(r.stderr);
  const below = await cli(['backup'], src.url, join(file, 'sub'));
  expect(below.exitCode).toBe(73);
  expect((await cli(['backup', 'list'], src.url, file)).exitCode).toBe(73);
});

test('a backup directory the OS user cannot write is 73, naming the path and the user', async () => {
  // root bypasses permission checks: run the CLI as nobody against a root-owned directory.
  const locked = join(work, 'locked');
  mkdirSync(locked, { mode: 0o755 });
  chmodSync(work, 0o755);
  // nobody must reach the CLI, also when the checkout is under a private directory (`mktemp -d` makes it 0700): the
  // package's files as an install has them are hard-linked (copied across file systems) into this test's directory.
  const pkg = join(work, 'pkg');
  mkdirSync(pkg, { mode: 0o755 });
  for (const entry of ['bin', 'dist', 'prisma', 'package.json', 'node_modules']) {
    if ((await execa('cp', ['-al', join(ROOT, entry), pkg], { reject: false })).exitCode !== 0) await execa('cp', ['-a', join(ROOT, entry), pkg]);
  }
  const asNobody = (dir: string) => execa('runuser', ['-u', 'nobody', '--', join(pkg, 'bin', 'axisor-db'), 'backup', '--database-url', src.url, '--backup-dir', dir, '--json'],
    { env: cliEnv({ HOME: '/tmp' }), extendEnv: false, reject: false, cwd: '/tmp' });
  for (const dir of [locked, join(locked, 'backups')]) {
    const r = await asNobody(dir);
    expect({ dir, code: r.exitCode }).toEqual({ dir, code: 73 });
    const doc = JSON.parse(String(r.stdout));
    expect(doc.error.code).toBe('path.permission');
    expect(doc.error.message).toContain(locked);
    expect(doc.error.message).toMatch(/permission denied for OS user nobody/);
    expectNoStack(String(r.stderr));
  }
});

let cluster: ThrowawayCluster | undefined;
test('verify of a chain says what it compared; a full disk during an incremental is 74 too (formerly "write EPIPE", 70)', async () => {
  const [opl] = await q(ADMIN_URL, `SELECT 1 AS x FROM pg_settings WHERE name = 'output_plugin_libraries'`);
  cluster = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'logical', max_replication_slots: 4, max_wal_senders: 4, ...(opl ? { output_plugin_libraries: 'pgoutput, test_decoding, wal2json' } : {}) } });
  try {
    await q(cluster.url, 'CREATE DATABASE shop');
    const shop = cluster.url.replace(/\/postgres$/, '/shop');
    await q(shop, FIXTURE_SQL);
    await q(shop, FIXTURE_DATA_SQL);
    // Item 6 of issue 11: verify of a chain says what it compared (content as of the full, row counts after replay).
    const good = join(work, 'chain');
    expect((await cli(['backup', '--type', 'full'], shop, good)).exitCode).toBe(0);
    await q(shop, `UPDATE "TradeLog" SET note = 'changed' WHERE id % 10 = 0`);
    const inc = await cli<BackupResult>(['backup', '--type', 'incremental'], shop, good);
    expect(inc.json.result.type).toBe('incremental');
    const v = await cli<VerifyResult>(['backup', 'verify', inc.json.result.id], shop, good);
    expect(v.exitCode).toBe(0);
    const compared = v.json.result.drill.compared;
    expect(compared).toMatchObject({ rowCounts: 3, content: 3, method: 'rowsum64-v1', contentAsOf: inc.json.result.parent });
    expect(compared!.summary).toMatch(/after replaying 1 incremental.*as of the full backup .* \(before replay; the incrementals' changes are compared by row counts only\)/);
    const disk = await smallDisk('incr', '2m');
    const full = await cli(['backup', '--type', 'full'], shop, disk);
    expect(full.exitCode).toBe(0);
    await q(shop, `INSERT INTO "TradeLog"(user_id, size, note) SELECT 'u' || (g % 50 + 1), g, md5(g::text) || md5((g * 3)::text) FROM generate_series(1, 120000) g`);
    const r = await cli(['backup', '--type', 'incremental'], shop, disk);
    expect(r.exitCode).toBe(74);
    expect(r.json.error.code).toBe('no_space.disk_full');
    expectNoStack(r.stderr);
    expect(readdirSync(disk).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  } finally {
    await cluster.stop();
  }
}, 120_000);
