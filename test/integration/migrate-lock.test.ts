import { describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { ExitCode } from '../../src/errors.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { query } from '../helpers/db.ts';
import { migrationSandboxes } from '../helpers/migrations.ts';
import type { MigrateStatusResult, MigrateUpResult } from '../helpers/results.ts';
import type { LockHolder } from '../../src/db/advisory-lock.ts';
import { waitFor } from '../helpers/wait.ts';

// Prisma's migration lock key, which axisor-db takes too (int8 key: classid 0, objid = key, objsubid 1).
const KEY = 72707369;
const sandbox = migrationSandboxes();

async function setup(prefix: string, ...sets: string[]) {
  const { db, m } = await sandbox(prefix, ...sets);
  const args = (...a: string[]) => ['migrate', ...a, '--database-url', db.url, '--migrations-dir', m.dir];
  return { db, m, args };
}


const GATE = 918273645;

/** Holds the gate of the 'gated' fixture migration until the returned client ends. */
async function closeGate(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'axisor-test-gate' });
  await c.connect();
  await c.query('SELECT pg_advisory_lock($1)', [GATE]);
  return c;
}

/** The backend of a migrator waiting at the gate, once there is one. */
const gateWaiterPid = async (url: string) =>
  (await query<{ pid: number }>(url, `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
     WHERE l.locktype = 'advisory' AND l.objid = $1 AND NOT l.granted AND a.application_name = 'axisor-db migrate'
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [GATE]))[0]?.pid;

const lockHolderPid = async (url: string) =>
  (await query<{ pid: number }>(url, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1 AND granted
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [KEY]))[0]?.pid;

describe('one migration run at a time', () => {
  test('two migrate processes started together: exactly one applies, the other waits and finds nothing', async () => {
    const t = await setup('mig_race', 'gated');
    const gate = await closeGate(t.db.url);
    let released = false;
    try {
      const runs = Promise.all([runCli<MigrateUpResult>([...t.args('--json')]), runCli<MigrateUpResult>([...t.args('--json')])]);
      // One run is inside the gated migration (holding the migration lock); wait until the other one is
      // connected too, i.e. polling for the lock, before letting the first finish.
      const winner = await waitFor('a run to reach the gate', () => gateWaiterPid(t.db.url), 60000);
      await waitFor('the second run to connect', async () =>
        (await query<{ n: number }>(t.db.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'axisor-db migrate' AND datname = current_database() AND pid <> $1`, [winner]))[0]!.n > 0 ? true : undefined, 60000);
      await gate.end();
      released = true;
      const [a, b] = await runs;
      expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
      const applied = [a, b].map((r) => r.json.result.schemaMigrations.applied.length);
      expect(applied.sort()).toEqual([0, 2]);
      const loser = [a, b].find((r) => r.json.result.schemaMigrations.applied.length === 0)!;
      expect(loser.json.result.dataMigrations.applied).toEqual([]);
      expect(loser.json.result.lockWaitMs).toBeGreaterThan(0);
      expect(await query(t.db.url, 'SELECT migration_name, count(*)::int AS n FROM _prisma_migrations GROUP BY 1 ORDER BY 1')).toEqual([
        { migration_name: '20250126000000_init', n: 1 },
        { migration_name: '20300106000000_gated', n: 1 },
      ]);
      expect(await query(t.db.url, 'SELECT count(*)::int AS n FROM axisor_data_migrations')).toEqual([{ n: 3 }]);
    } finally {
      if (!released) await gate.end();
    }
  });

  test('a second process that cannot get the lock in --lock-timeout exits 75 naming the running one\'s pid', async () => {
    const t = await setup('mig_busy', 'gated');
    const gate = await closeGate(t.db.url);
    let released = false;
    try {
      const first = spawnCli(t.args());
      await waitFor('the first run to reach the gate', () => gateWaiterPid(t.db.url), 60000);
      const holder = await waitFor('the first run to hold the lock', () => lockHolderPid(t.db.url), 15000);
      const second = await runCli(t.args('--lock-timeout', '300ms', '--json'));
      expect(second.exitCode).toBe(ExitCode.LOCK_HELD);
      expect(second.json.error.code).toBe('lock.held');
      const holderDetails = second.json.error.details!.holder as LockHolder;
      expect(holderDetails.pid).toBe(holder);
      expect(holderDetails.applicationName).toBe('axisor-db migrate');
      expect(second.stderr).toContain(`pid ${holder}`);
      await gate.end();
      released = true;
      expect((await first).exitCode).toBe(0);
    } finally {
      if (!released) await gate.end();
    }
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
      expect(r.json.error.details!.holder).toMatchObject({ pid, applicationName: 'prisma-migrate-deploy', state: 'idle' });
      expect(typeof (r.json.error.details!.holder as LockHolder).ageSeconds).toBe('number');
      expect(await query(t.db.url, `SELECT to_regclass('_prisma_migrations') AS t`)).toEqual([{ t: null }]);
    } finally {
      await c.end();
    }
  });

  test('a killed migrator leaves no lock and no partial schema; its migration shows as failed', async () => {
    const t = await setup('mig_kill', 'slow');
    const child = spawnCli(t.args());
    await waitFor('the slow migration to start', async () =>
      (await query(t.db.url, `SELECT 1 FROM pg_stat_activity WHERE application_name = 'axisor-db migrate' AND query LIKE '%pg_sleep%'`))[0], 15000);
    child.kill('SIGKILL');
    await child;
    // The server ends the orphaned session (at the latest when pg_sleep returns), releasing its session lock.
    await waitFor('the lock to be released', async () => ((await lockHolderPid(t.db.url)) === undefined ? true : undefined), 15000);
    expect(await query(t.db.url, `SELECT to_regclass('"Slow"') AS t`)).toEqual([{ t: null }]);
    const status = await runCli<MigrateStatusResult>(t.args('status', '--json'));
    expect(status.exitCode & 4).toBe(4);
    expect(status.json.result.schemaMigrations.find((s) => s.name === '20300105000000_slow')!.state).toBe('failed');
    expect((await runCli(t.args('resolve', '--rolled-back', '20300105000000_slow'))).exitCode).toBe(0);
    expect((await runCli(t.args())).exitCode).toBe(0);
    expect((await runCli(t.args('status'))).exitCode).toBe(0);
  });
});

describe('pooler warning', () => {
  test('a pgbouncer=true URL warns that the session lock is unsafe through a transaction pooler', async () => {
    const t = await setup('mig_pool');
    const url = `${t.db.url}?pgbouncer=true`;
    const r = await runCli<MigrateStatusResult>(['migrate', 'status', '--database-url', url, '--migrations-dir', t.m.dir, '--json']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/warning: .*transaction pooler/);
  });
});
