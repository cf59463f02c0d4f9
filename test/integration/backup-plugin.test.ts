import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../src/errors.ts';
import { withClient } from '../../src/db/index.ts';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { runCli } from '../helpers/cli.ts';
import { ADMIN_URL, query } from '../helpers/db.ts';

// Some server builds restrict logical decoding plugins with output_plugin_libraries. A value the pre-flight
// misjudges (the whole list quoted as one item) must still end as a prerequisite error, not an internal one.
const hasSetting = (await query(ADMIN_URL, `SELECT 1 FROM pg_settings WHERE name = 'output_plugin_libraries'`)).length > 0;
const maybe = hasSetting ? test : test.skip;

let cluster: ThrowawayCluster | undefined;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'axisor-bk-plugin-'));
  if (!hasSetting) return;
  cluster = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'logical' } });
  await withClient(cluster.connection, async (c) => {
    await c.query('CREATE TABLE t (id int PRIMARY KEY)');
    // Quoted, the list becomes ONE item named "pgoutput, test_decoding, wal2json": the text mentions pgoutput,
    // the server does not allow it.
    await c.query(`ALTER SYSTEM SET output_plugin_libraries = 'pgoutput, test_decoding, wal2json'`);
    await c.query('SELECT pg_reload_conf()');
  });
  for (let i = 0; i < 50; i++) {
    const [row] = await query<{ s: string }>(cluster.url, `SELECT current_setting('output_plugin_libraries') AS s`);
    if (row!.s.includes('test_decoding, wal2json')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

maybe('a pgoutput that the server refuses as a plugin is exit 69 naming the setting, and nothing is published', async () => {
  const r = await runCli(['backup', '--type', 'full', '--json', '--database-url', cluster!.url, '--backup-dir', dir]);
  expect(r.exitCode).toBe(ExitCode.PREREQUISITE);
  expect(r.json.error.code).toBe('prerequisite.output_plugin');
  expect(r.json.error.hint).toContain('output_plugin_libraries');
  expect(readdirSync(dir).filter((n) => !n.startsWith('.'))).toEqual([]);
});
