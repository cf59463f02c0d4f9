import { expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chooseTarget } from '../../src/demo/target.ts';
import { withClient } from '../../src/db/index.ts';
import { freePort } from '../../src/pgtools/index.ts';
import { ADMIN_URL, connectionFor } from '../helpers/db.ts';

test('with no server answering, the demo falls back to a throwaway cluster with wal_level=logical, and it can be removed', async () => {
  const deadPort = await freePort();
  const target = await chooseTarget({ ephemeral: false, env: process.env, local: connectionFor(`postgres://postgres@127.0.0.1:${deadPort}/postgres`) });
  try {
    expect(target.kind).toBe('ephemeral');
    expect(target.walLevel).toBe('logical');
    // What the demo's incremental backups need from the cluster: logical decoding through pgoutput (the capture)
    // and wal2json (older change files), allowed where a build restricts plugins (output_plugin_libraries).
    // Decoding an INSERT through both fails if wal_level, the plugin list or a plugin is wrong.
    const decoded = await withClient(target.server, async (c) => {
      await c.query('CREATE TABLE demo_target_probe (id int PRIMARY KEY)');
      await c.query('CREATE PUBLICATION demo_target_probe FOR TABLE demo_target_probe');
      await c.query(`SELECT pg_create_logical_replication_slot('probe_pgoutput', 'pgoutput', true)`);
      await c.query(`SELECT pg_create_logical_replication_slot('probe_wal2json', 'wal2json', true)`);
      // The cluster runs with synchronous_commit off, and logical decoding reads only flushed WAL.
      await c.query('SET synchronous_commit = on');
      await c.query('INSERT INTO demo_target_probe VALUES (42)');
      // pgoutput's Insert message starts with the byte 'I' (73).
      const pgoutput = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_logical_slot_get_binary_changes('probe_pgoutput', NULL, NULL, 'proto_version', '1', 'publication_names', 'demo_target_probe') WHERE get_byte(data, 0) = 73`);
      const wal2json = await c.query<{ data: string }>(`SELECT data FROM pg_logical_slot_get_changes('probe_wal2json', NULL, NULL)`);
      return { pgoutputInserts: pgoutput.rows[0]!.n, wal2json: wal2json.rows.map((r) => r.data).join('\n') };
    });
    expect(decoded.pgoutputInserts).toBe(1);
    expect(decoded.wal2json).toMatch(/"kind":\s*"insert".*"table":\s*"demo_target_probe"/);
  } finally {
    await target.cluster?.stop();
  }
  expect(existsSync(target.cluster!.dataDir)).toBe(false);
});

test('a DATABASE_URL target is used as given (its server), without starting anything', async () => {
  const target = await chooseTarget({ ephemeral: false, env: {}, explicit: connectionFor(ADMIN_URL) });
  expect(target.kind).toBe('url');
  expect(target.cluster).toBeUndefined();
});
