import { expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { runCli } from '../helpers/cli.ts';
import { ADMIN_URL, query } from '../helpers/db.ts';
import type { DemoResult } from '../helpers/results.ts';

test('demo --ephemeral --json runs every step, reports figures, and leaves nothing behind', async () => {
  const r = await runCli<DemoResult>(['demo', '--ephemeral', '--json', '--users', '150', '--trades-per-user', '20', '--demo-db', 'axisor_test_demo']);
  expect(r.stderr).not.toMatch(/error:/);
  expect(r.exitCode).toBe(0);
  const doc = r.json;
  expect(doc).toMatchObject({ version: 1, command: 'demo', ok: true, exitCode: 0 });
  const res = doc.result;
  expect(res.target).toMatchObject({ kind: 'ephemeral', walLevel: 'logical' });
  const byName = Object.fromEntries(res.steps.map((s) => [s.name, s]));
  expect(res.steps.map((s) => s.name)).toEqual([
    'migrate', 'seed', 'backup-full', 'backup-incremental', 'validate-clean', 'defects', 'restore', 'debug-perf',
  ]);
  for (const s of res.steps) {
    expect(s.status).toBe('ok');
    expect(s.commands.length).toBeGreaterThan(0);
    for (const c of s.commands) expect(c).toMatch(/^axisor-db /);
  }
  expect(byName.migrate.figures.schemaMigrations).toBeGreaterThanOrEqual(1);
  expect(byName.seed.figures.trades).toBe(150 * 20);
  expect(byName['backup-full'].figures.bytes).toBeGreaterThan(0);
  expect(byName['backup-incremental'].figures.parent).toBe(byName['backup-full'].figures.id);
  expect(byName['backup-incremental'].figures.updated).toBeGreaterThan(0);
  expect(byName['validate-clean'].figures).toMatchObject({ exitCode: 0, errors: 0 });
  expect(byName.defects.figures).toMatchObject({ validateExitCode: 2, validateAfterFixExitCode: 0 });
  expect((byName.defects.figures.appliedDeleted as number) + (byName.defects.figures.appliedUpdated as number)).toBe(byName.defects.figures.dryRunWouldChange);
  expect(byName.restore.figures.identicalTables).toBe(byName.restore.figures.tables);
  expect([0, 1, 2]).toContain(byName['debug-perf'].figures.exitCode);
  // Nothing left behind: the cluster's directory is gone (its databases with it), the backups too.
  expect(res.cleanup).toMatchObject({ clusterStopped: true, backupDirRemoved: true });
  expect(res.target.clusterDataDir).toEqual(expect.any(String));
  expect(existsSync(res.target.clusterDataDir!)).toBe(false);
  expect(existsSync(res.backupDir)).toBe(false);
});

test('demo on a server refuses to touch a same-named database it did not create', async () => {
  await query(ADMIN_URL, 'CREATE DATABASE axisor_test_demo_foreign');
  try {
    const r = await runCli<DemoResult>(['demo', '--json', '--database-url', ADMIN_URL, '--demo-db', 'axisor_test_demo_foreign']);
    expect(r.exitCode).toBe(77);
    expect(r.json.error.code).toBe('refused.demo_db_exists');
    const still = await query(ADMIN_URL, `SELECT 1 FROM pg_database WHERE datname = 'axisor_test_demo_foreign'`);
    expect(still).toHaveLength(1);
  } finally {
    await query(ADMIN_URL, 'DROP DATABASE IF EXISTS axisor_test_demo_foreign WITH (FORCE)');
  }
});
