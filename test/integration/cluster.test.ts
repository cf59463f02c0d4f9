import { expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { withClient } from '../../src/db/index.ts';
import { startThrowawayCluster } from '../../src/pgtools/index.ts';

test('a throwaway cluster starts with wal_level=logical, answers, and is removed on stop', async () => {
  const cluster = await startThrowawayCluster({ env: process.env, settings: { wal_level: 'logical', max_replication_slots: 4 } });
  try {
    const rows = await withClient(cluster.connection, async (c) => (await c.query(`SELECT current_setting('wal_level') AS w, current_setting('port')::int AS p`)).rows);
    expect(rows[0]).toEqual({ w: 'logical', p: cluster.port });
    expect(existsSync(cluster.dataDir)).toBe(true);
  } finally {
    await cluster.stop();
  }
  expect(existsSync(cluster.dataDir)).toBe(false);
});
