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
    const plugins = await withClient(target.server, async (c) =>
      (await c.query(`SELECT coalesce(current_setting('output_plugin_libraries', true), 'wal2json') AS p`)).rows[0].p);
    expect(plugins).toContain('wal2json');
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
