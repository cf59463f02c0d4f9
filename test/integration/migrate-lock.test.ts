import { afterAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import pg from 'pg';
import { ExitCode } from '../../src/errors.ts';
import { BIN, runCli } from '../helpers/cli.ts';
import { createTestDatabase, query, type TestDatabase } from '../helpers/db.ts';
import { scratchMigrations, type MigrationsDir } from '../helpers/migrations.ts';

// Prisma's migration lock key, which axisor-db takes too (int8 key: classid 0, objid = key, objsubid 1).
const KEY = 72707369;
const dbs: TestDatabase[] = [];
const dirs: MigrationsDir[] = [];
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  await Promise.all(dirs.map((d) => d.cleanup()));
});

async function setup(prefix: string, ...sets: string[]) {
  const db = await createTestDatabase(prefix);
  dbs.push(db);
  const m = await scratchMigrations(...sets);
  dirs.push(m);
  const args = (...a: string[]) => ['migrate', ...a, '--database-url', db.url, '--migrations-dir', m.dir];
  return { db, m, args };
}

/** The built CLI as a child process we can kill (runCli only returns once it exits). */
function spawnCli(args: string[]) {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^PG|^DATABASE_URL$|^AXISOR_|^NODE_OPTIONS$/.test(k)) env[k] = v;
  return execa(BIN, args, { env: { ...env, NO_COLOR: '1' }, extendEnv: false, reject: false });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 15000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lockHolderPid = async (url: string) =>
  (await query<{ pid: number }>(url, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1 AND granted`, [KEY]))[0]?.pid;

describe('one migration run at a time', () => {
  test('two migrate processes started together: exactly one applies, the other waits and finds nothing', async () => {
    const t = await setup('mig_race', 'slow');
    const [a, b] = await Promise.all([runCli([...t.args('--json')]), runCli([...t.args('--json')])]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    const applied = [a, b].map((r) => r.json.result.schemaMigrations.applied.length);
    expect(applied.sort()).toEqual([0, 2]);
    const loser = [a, b].find((r) => r.json.result.schemaMigrations.applied.length === 0)!;
    expect(loser.json.result.dataMigrations.applied).toEqual([]);
    expect(loser.json.result.lockWaitMs).toBeGreaterThan(0);
    expect(await query(t.db.url, 'SELECT migration_name, count(*)::int AS n FROM _prisma_migrations GROUP BY 1 ORDER BY 1')).toEqual([
      { migration_name: '20250126000000_init', n: 1 },
      { migration_name: '20300105000000_slow', n: 1 },
    ]);
    expect(await query(t.db.url, 'SELECT count(*)::int AS n FROM axisor_data_migrations')).toEqual([{ n: 3 }]);
  });

  test('a second process that cannot get the lock in --lock-timeout exits 75 naming the running one\'s pid', async () => {
    const t = await setup('mig_busy', 'slow');
    const first = spawnCli(t.args());
    const holder = await waitFor('the first run to take the lock', () => lockHolderPid(t.db.url));
    const second = await runCli(t.args('--lock-timeout', '300ms', '--json'));
    expect(second.exitCode).toBe(ExitCode.LOCK_HELD);
    expect(second.json.error.code).toBe('lock.held');
    expect(second.json.error.details.holder.pid).toBe(holder);
    expect(second.json.error.details.holder.applicationName).toBe('axisor-db migrate');
    expect(second.stderr).toContain(`pid ${holder}`);
    expect((await first).exitCode).toBe(0);
  });

  test('a lock held by another session (e.g. prisma migrate deploy) is reported with its pid, app and state', async () => {
    const t = await setup('mig_held');
    const c = new pg.Client({ connectionString: t.db.url, application_name: 'prisma-migrate-deploy' });
    await c.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1::bigint)', [KEY]);
      const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const r = await runCli(t.args('--lock-timeout', '400ms', '--json'));
      expect(r.exitCode).toBe(ExitCode.LOCK_HELD);
      expect(r.json.error.details.holder).toMatchObject({ pid, applicationName: 'prisma-migrate-deploy', state: 'idle' });
      expect(typeof r.json.error.details.holder.ageSeconds).toBe('number');
      expect(await query(t.db.url, `SELECT to_regclass('_prisma_migrations') AS t`)).toEqual([{ t: null }]);
    } finally {
      await c.end();
    }
  });

  test('a killed migrator leaves no lock and no partial schema; its migration shows as failed', async () => {
    const t = await setup('mig_kill', 'slow');
    const child = spawnCli(t.args());
    await waitFor('the slow migration to start', async () =>
      (await query(t.db.url, `SELECT 1 FROM pg_stat_activity WHERE application_name = 'axisor-db migrate' AND query LIKE '%pg_sleep%'`))[0]);
    child.kill('SIGKILL');
    await child;
    // The server ends the orphaned session (at the latest when pg_sleep returns), releasing its session lock.
    await waitFor('the lock to be released', async () => ((await lockHolderPid(t.db.url)) === undefined ? true : undefined));
    expect(await query(t.db.url, `SELECT to_regclass('"Slow"') AS t`)).toEqual([{ t: null }]);
    const status = await runCli(t.args('status', '--json'));
    expect(status.exitCode & 4).toBe(4);
    expect(status.json.result.schemaMigrations.find((s: any) => s.name === '20300105000000_slow').state).toBe('failed');
    expect((await runCli(t.args('resolve', '--rolled-back', '20300105000000_slow'))).exitCode).toBe(0);
    expect((await runCli(t.args())).exitCode).toBe(0);
    expect((await runCli(t.args('status'))).exitCode).toBe(0);
  });
});

describe('pooler warning', () => {
  test('a pgbouncer=true URL warns that the session lock is unsafe through a transaction pooler', async () => {
    const t = await setup('mig_pool');
    const url = `${t.db.url}?pgbouncer=true`;
    const r = await runCli(['migrate', 'status', '--database-url', url, '--migrations-dir', t.m.dir, '--json']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/warning: .*transaction pooler/);
  });
});
