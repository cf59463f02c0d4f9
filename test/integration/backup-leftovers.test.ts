import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { pgTool, FIXTURE_DATA_SQL, FIXTURE_SQL, q } from '../helpers/backup.ts';
import { spawnCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';

// Issue 12: nothing a killed run leaves behind (passfiles holding the password, side databases with a full copy
// of the data, pg_restore/psql children, temporary directories) survives the next run. A password-protected
// throwaway cluster, so that passfiles exist at all.
let cluster: ThrowawayCluster;
let dir: string;
let env: Record<string, string>;
const password = `Leftover-${Date.now()}-pw`;

function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(name)]);
    } catch {
      /* exited */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => (byParent.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(pid);
  return out;
}
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const tempLeftovers = (pid: number) => readdirSync(tmpdir()).filter((n) => n.startsWith(`axisor-pass-${pid}-`) || n.startsWith(`axisor-toc-${pid}-`));
const databases = async (like: string) => (await q<{ datname: string }>(cluster.url.replace('postgres@', `postgres:${password}@`), 'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1', [like])).map((r) => r.datname);

/** Starts the CLI, waits until it runs children and `ready()` holds, then kill -9s it. Returns its pid and children. */
async function killMidway(args: string[], ready: (pid: number) => Promise<boolean> | boolean): Promise<{ pid: number; children: number[] }> {
  const child = spawnCli([...args, '--quiet'], { env });
  const pid = child.pid!;
  let exited: string | null = null;
  void child.then((r) => (exited = `exit ${r.exitCode}: ${String(r.stderr).slice(0, 500)}`));
  let children: number[] = [];
  const comm = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  await waitFor(`${args[0]} to start its tools`, async () => {
    if (exited) throw new Error(`${args[0]} ended before it could be killed: ${exited}`);
    children = descendants(pid).filter((p) => /^(psql|pg_dump|pg_restore|zstd)$/.test(comm(p)));
    return children.length > 0 && (await ready(pid));
  }, 60_000);
  children = descendants(pid);
  process.kill(pid, 'SIGKILL');
  await child;
  return { pid, children };
}

beforeAll(async () => {
  cluster = await startThrowawayCluster({ env: process.env, auth: 'scram', superuserPassword: password });
  const admin = cluster.url.replace('postgres@', `postgres:${encodeURIComponent(password)}@`);
  await q(admin, 'CREATE DATABASE shop');
  const shop = admin.replace(/\/postgres$/, '/shop');
  await q(shop, FIXTURE_SQL);
  await q(shop, FIXTURE_DATA_SQL);
  await q(shop, `INSERT INTO "TradeLog"(user_id, size, note) SELECT 'u' || (g % 50 + 1), g, repeat(md5(g::text), 6) FROM generate_series(1, 400000) g`);
  dir = mkdtempSync(join(tmpdir(), 'axisor-bk-left-'));
  env = { DATABASE_URL: shop, AXISOR_BACKUP_DIR: dir };
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('kill -9 of a backup: its children die with it; the next run removes its passfile and temporary directory', async () => {
  const { pid, children } = await killMidway(['backup', '--no-chain', '--jobs', '2'], (p) => tempLeftovers(p).length > 0);
  // Left behind at this point (this is what the next run must clean up): the passfile directory, the .tmp- dir.
  expect(tempLeftovers(pid).length).toBeGreaterThan(0);
  expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-')).length).toBe(1);
  await waitFor('the children to die with their parent', () => children.every((c) => !alive(c)), 5000);
  const next = await spawnCli(['backup', '--no-chain', '--json'], { env });
  expect(next.exitCode).toBe(0);
  expect(tempLeftovers(pid)).toEqual([]);
  expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
}, 120_000);

test('kill -9 of a restore: children die, and the next run drops its side database and removes its temp directories', async () => {
  const { pid, children } = await killMidway(['restore', '--latest', '--target-db', 'copy1', '--jobs', '2'],
    async (p) => tempLeftovers(p).some((n) => n.startsWith('axisor-toc-')) && (await databases('copy1_restore_%')).length === 1);
  expect((await databases('copy1_restore_%')).length).toBe(1);
  expect(tempLeftovers(pid).length).toBeGreaterThan(0);
  await waitFor('the children to die with their parent', () => children.every((c) => !alive(c)), 5000);
  // The next run of any kind cleans up: here a backup (it drops the dead restore's side database too).
  const next = await spawnCli(['backup', '--no-chain', '--json'], { env });
  expect(next.exitCode).toBe(0);
  expect(await databases('copy1%')).toEqual([]);
  const restore = await spawnCli(['restore', '--latest', '--target-db', 'copy2', '--json'], { env });
  expect(restore.exitCode).toBe(0);
  expect(await databases('copy2%')).toEqual(['copy2']);
  expect(tempLeftovers(pid)).toEqual([]);
}, 120_000);

test('a server restart mid-restore is "connection lost" (68); the next run sweeps the side database', async () => {
  const child = spawnCli(['restore', '--latest', '--target-db', 'copy3', '--jobs', '2', '--json'], { env });
  await waitFor('the restore to load data', async () => (await databases('copy3_restore_%')).length === 1 && descendants(child.pid!).length > 0, 60_000);
  const restart = await execa('runuser', ['-u', 'postgres', '--', await pgTool('pg_ctl'), '-D', cluster.dataDir, '-l', join(dirname(cluster.dataDir), 'server.log'), '-m', 'immediate', '-w', 'restart'], { reject: false, stdio: 'ignore' });
  expect(restart.exitCode).toBe(0);
  const r = await child;
  // Shaped so that a failure prints the document (which phase the restart hit and what it was mapped to).
  expect(r.exitCode === 68 ? 68 : `exit ${r.exitCode}: ${String(r.stdout)}`).toBe(68);
  const doc = JSON.parse(String(r.stdout));
  expect(doc.ok).toBe(false);
  expect(doc.error.code).toBe('connection.lost');
  expect(String(r.stderr)).not.toMatch(/this is a bug/);
  const next = await spawnCli(['restore', '--latest', '--target-db', 'copy4', '--json'], { env });
  expect(next.exitCode).toBe(0);
  expect(JSON.parse(String(next.stdout)).result.warnings).toEqual([]);
  expect(await databases('copy3%')).toEqual([]);
}, 120_000);

test('a server restart mid-backup is "connection lost" (68), not an internal error; nothing is published', async () => {
  const before = readdirSync(dir).filter((n) => !n.startsWith('.')).length;
  const child = spawnCli(['backup', '--no-chain', '--jobs', '2', '--json'], { env });
  await waitFor('the backup to stream data', () => descendants(child.pid!).some((p) => {
    try {
      // A data stream's compressor (COPY runs over the connection, there is no psql), not the `zstd --version` probe.
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'zstd' && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('-T1');
    } catch {
      return false;
    }
  }), 60_000);
  const restart = await execa('runuser', ['-u', 'postgres', '--', await pgTool('pg_ctl'), '-D', cluster.dataDir, '-l', join(dirname(cluster.dataDir), 'server.log'), '-m', 'immediate', '-w', 'restart'], { reject: false, stdio: 'ignore' });
  expect(restart.exitCode).toBe(0);
  const r = await child;
  const doc = JSON.parse(String(r.stdout));
  expect({ code: r.exitCode, error: doc.error?.code }).toEqual({ code: 68, error: 'connection.lost' });
  expect(String(r.stderr)).not.toMatch(/this is a bug/);
  expect(readdirSync(dir).filter((n) => !n.startsWith('.')).length).toBe(before);
  expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
}, 120_000);
