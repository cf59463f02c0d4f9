import { Writable } from 'node:stream';
import { expect, test } from '@jest/globals';
import { Output } from '../../src/render/output.ts';
import { renderStatus, renderUp } from '../../src/render/migrate.ts';
import type { MigrateStatusResult } from '../../src/migrate/status.ts';
import type { MigrateUpResult } from '../../src/migrate/runner.ts';

function capture() {
  let text = '';
  const sink = new Writable({ write(chunk, _e, cb) { text += String(chunk); cb(); } });
  const out = new Output({ json: false, quiet: false, verbose: false, color: false, isTTY: false, stdout: sink, stderr: new Writable({ write(_c, _e, cb) { cb(); } }) });
  return { out, text: () => text };
}

test('status view: one row per migration, the failed one with its error and the resolve commands', () => {
  const r: MigrateStatusResult = {
    database: 'postgres://u@h:5432/db', schema: 'public', migrationsDir: '/m', historyTable: true, lockHolder: null,
    schemaMigrations: [
      { name: '20250101_init', state: 'applied', checksum: 'a', startedAt: 's', finishedAt: '2025-01-01T00:00:00Z' },
      { name: '20250102_bad', state: 'failed', checksum: 'b', startedAt: '2025-01-02T00:00:00Z', finishedAt: null, logs: 'A migration failed\n\nDatabase error:\nERROR: relation "x" does not exist' },
    ],
    dataMigrations: [{ version: 1, name: 'migrate_user_preferences', state: 'pending', checksum: 'c', finishedAt: null, durationMs: null, rowsChanged: null }],
    summary: { applied: 1, pending: 0, failed: 1, running: 0, modified: 0, missing: 0, dataApplied: 0, dataPending: 1, dataModified: 0 },
    bits: 6, flags: ['PENDING_DATA', 'FAILED'],
  };
  const c = capture();
  renderStatus(r, c.out);
  expect(c.text()).toMatch(/20250102_bad\s+│ failed/);
  expect(c.text()).toContain('ERROR: relation "x" does not exist');
  expect(c.text()).toContain('axisor-db migrate resolve --rolled-back 20250102_bad');
  expect(c.text()).toContain('Status 6: PENDING_DATA, FAILED.');
});

test('dry-run view says nothing changed and lists what would run', () => {
  const r: MigrateUpResult = {
    dryRun: true, database: 'postgres://u@h:5432/db', schema: 'public', migrationsDir: '/m', lockWaitMs: 0, warnings: [],
    schemaMigrations: { applied: [], planned: [{ name: '20250103_idx', checksum: 'x', transactional: false }], alreadyApplied: 2 },
    dataMigrations: { applied: [], planned: [{ version: 1, name: 'migrate_user_preferences', rowsToChange: 42 }], alreadyApplied: 0 },
  };
  const c = capture();
  renderUp(r, c.out);
  expect(c.text()).toContain('nothing was changed');
  expect(c.text()).toMatch(/20250103_idx\s+│ statement by statement/);
  expect(c.text()).toMatch(/1 migrate_user_preferences\s+│\s+42/);
});
