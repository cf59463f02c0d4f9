import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type TestDatabase } from '../helpers/db.ts';
import { cli, createBackupSource, removeBackupTestLeftovers } from '../helpers/backup.ts';
import { waitFor } from '../helpers/wait.ts';
import type { BackupResult, HealthCheckResult } from '../helpers/results.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  ({ src: db, dir } = await createBackupSource('bk_health'));
});

afterAll(() => removeBackupTestLeftovers({ src: db, dirs: [dir] }));

test('backup status --check exits Nagios-style (no backup, fresh, stale, failed verify); --format openmetrics writes the textfile', async () => {
  const none = await cli<HealthCheckResult>(['backup', 'status', '--check'], db.url, dir);
  expect(none.exitCode).toBe(2);
  expect(none.json.result.checks).toContainEqual(expect.objectContaining({ name: 'age', status: 2 }));

  const full = await cli<BackupResult>(['backup', '--type', 'full', '--no-chain'], db.url, dir);
  expect(full.exitCode).toBe(0);
  const fresh = await cli<HealthCheckResult>(['backup', 'status', '--check', '--max-age', '26h'], db.url, dir);
  expect([fresh.exitCode, fresh.json.result.label]).toEqual([0, 'OK']);
  expect(fresh.json.result.nagios).toMatch(/^AXISOR BACKUP OK - axisor_test_bk_health_\w+: newest backup /);

  // The same backup judged against a 1 s limit once more than a second has passed since it finished: CRITICAL.
  const finishedAt = Date.parse(fresh.json.result.newest!.finishedAt);
  await waitFor('the backup to be more than 1 s old', () => Date.now() - finishedAt > 1000);
  const stale = await cli<HealthCheckResult>(['backup', 'status', '--check', '--max-age', '1s'], db.url, dir);
  expect([stale.exitCode, stale.json.result.label]).toEqual([2, 'CRITICAL']);
  const warn = await cli(['backup', 'status', '--check', '--warn-age', '1s'], db.url, dir);
  expect(warn.exitCode).toBe(1);

  // verify persists its result where status reads it: a passing drill is OK, a damaged backup turns the check CRITICAL.
  const verified = await cli(['backup', 'verify', full.json.result.id], db.url, dir);
  expect(verified.exitCode).toBe(0);
  const afterVerify = await cli<HealthCheckResult>(['backup', 'status', '--check'], db.url, dir);
  expect(afterVerify.exitCode).toBe(0);
  expect(afterVerify.json.result.checks).toContainEqual(expect.objectContaining({ name: 'verify', status: 0 }));
  const schema = join(dir, full.json.result.id, 'schema.dump');
  const bytes = readFileSync(schema);
  bytes[bytes.length - 1] ^= 0xff;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(schema, bytes);
  const failed = await cli(['backup', 'verify', full.json.result.id, '--no-drill'], db.url, dir);
  expect(failed.exitCode).toBe(65);
  const afterFail = await cli<HealthCheckResult>(['backup', 'status', '--check'], db.url, dir);
  expect(afterFail.exitCode).toBe(2);
  expect(afterFail.json.result.checks).toContainEqual(expect.objectContaining({ name: 'verify', status: 2 }));

  const prom = join(dir, 'axisor_backup.prom');
  const metrics = await cli(['backup', 'status', '--format', 'openmetrics', '--output', prom], db.url, dir);
  expect(metrics.exitCode).toBe(0);
  const text = readFileSync(prom, 'utf8');
  expect(text).toMatch(/^axisor_backup_last_success_timestamp_seconds\{database="axisor_test_bk_health_\w+",type="full"\} \d+/m);
  expect(text).toMatch(/^axisor_backup_last_verify_success\{[^}]*\} 0$/m);
  expect(text.trimEnd().endsWith('# EOF')).toBe(true);
  expect(statSync(prom).mode & 0o777).toBe(0o644);

  const bad = await cli(['backup', 'status', '--format', 'openmetrics'], db.url, dir);
  expect(bad.exitCode).toBe(64);
});
