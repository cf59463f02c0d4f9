import { runKeysetBatches } from './batch.ts';
import { keysetVariants, qualify } from './sql.ts';
import type { DataMigration } from './types.ts';

/**
 * Every user gets a UserPreferences row (the design's migrate_user_preferences). The design loaded every user
 * without preferences with findMany and created rows one by one; here each batch of users is one
 * INSERT ... SELECT. Defaults come from the table's column defaults, which are the application's defaults.
 * Users that already have a row are skipped by ON CONFLICT on the unique user_id index (one index probe per
 * user). A NOT EXISTS anti-join was slower here: planned from the table's stale statistics, it re-scanned the
 * growing UserPreferences table once per batch (bench/migrate.ts: 3x the floor at 1000-row batches).
 */
const BATCH = `
WITH batch AS (
  SELECT u.id FROM {User} u WHERE TRUE /*AFTER*/ ORDER BY u.id LIMIT $LIMIT
), ins AS (
  INSERT INTO {UserPreferences} (user_id)
  SELECT b.id FROM batch b
  ON CONFLICT (user_id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT max(id) FROM batch) AS last_id,
       (SELECT count(*) FROM batch)::int AS scanned,
       (SELECT count(*) FROM ins)::int AS changed`;

const COUNT = `SELECT count(*)::int AS n FROM {User} u WHERE NOT EXISTS (SELECT 1 FROM {UserPreferences} p WHERE p.user_id = u.id)`;

export const userPreferencesBackfill: DataMigration = {
  version: 1,
  name: 'migrate_user_preferences',
  description: 'create default UserPreferences for users without them (keyset batches over "User".id)',
  requiresTables: ['User', 'UserPreferences'],
  definition: BATCH,
  async countPending(client, ctx) {
    const { rows } = await client.query<{ n: number }>(qualify(COUNT, ctx.schema));
    return rows[0]?.n ?? 0;
  },
  async up(client, ctx) {
    const { first, next } = keysetVariants(BATCH, 'u.id', ctx.schema);
    return runKeysetBatches(client, ctx, 'migrate_user_preferences', first, next);
  },
};
