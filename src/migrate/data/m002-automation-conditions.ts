import { runKeysetBatches } from './batch.ts';
import { keysetVariants, qualify } from './sql.ts';
import type { DataMigration } from './types.ts';

/**
 * Automation.conditions format change (the design's migrate_automation_conditions, whose transform it left
 * undefined). Legacy rows keep their settings nested under "old_format":
 *     {"old_format": {"trigger": "price_below", "value": 50000}, "symbol": "BTCUSD"}
 * The current format is flat and versioned:
 *     {"trigger": "price_below", "value": 50000, "symbol": "BTCUSD", "format_version": 2}
 * Top-level keys win over nested ones on a clash (they are the newer edit). A legacy value that is not an
 * object (e.g. an array of rules) moves to "rules". Rows whose old_format is absent or JSON null are untouched,
 * so running it twice changes nothing. Set-based per keyset batch; updated_at is bumped on changed rows only.
 */
const NEW_CONDITIONS = `CASE WHEN jsonb_typeof(a.conditions->'old_format') = 'object'
            THEN (a.conditions->'old_format') || (a.conditions - 'old_format')
            ELSE (a.conditions - 'old_format') || jsonb_build_object('rules', a.conditions->'old_format')
       END || '{"format_version": 2}'::jsonb`;

const LEGACY = `jsonb_typeof(a.conditions->'old_format') IS DISTINCT FROM 'null' AND a.conditions ? 'old_format'`;

const BATCH = `
WITH batch AS (
  SELECT a.id FROM {Automation} a WHERE TRUE /*AFTER*/ ORDER BY a.id LIMIT $LIMIT
), upd AS (
  UPDATE {Automation} a
     SET conditions = ${NEW_CONDITIONS}, updated_at = now()
    FROM batch b
   WHERE a.id = b.id AND ${LEGACY}
  RETURNING 1
)
SELECT (SELECT max(id) FROM batch) AS last_id,
       (SELECT count(*) FROM batch)::int AS scanned,
       (SELECT count(*) FROM upd)::int AS changed`;

const COUNT = `SELECT count(*)::int AS n FROM {Automation} a WHERE ${LEGACY}`;

export const automationConditionsFormat: DataMigration = {
  version: 2,
  name: 'migrate_automation_conditions',
  description: 'flatten legacy Automation.conditions {"old_format": {...}} into format_version 2 (keyset batches)',
  requiresTables: ['Automation'],
  definition: BATCH,
  async countPending(client, ctx) {
    const { rows } = await client.query<{ n: number }>(qualify(COUNT, ctx.schema));
    return rows[0]?.n ?? 0;
  },
  async up(client, ctx) {
    const { first, next } = keysetVariants(BATCH, 'a.id', ctx.schema);
    return runKeysetBatches(client, ctx, 'migrate_automation_conditions', first, next);
  },
};
