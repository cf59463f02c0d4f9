import { qualify } from './sql.ts';
import type { DataMigration } from './types.ts';

/** The design's default templates, verbatim. Ids are the readable slugs Notification.template_id refers to. */
export const DEFAULT_TEMPLATES = [
  { id: 'welcome_template', name: 'Welcome Template', subject: 'Welcome to Axisor!', content: 'Welcome {{user_name}}! Your account has been created successfully.', type: 'WELCOME', language: 'en-US' },
  { id: 'trade_opened_template', name: 'Trade Opened Template', subject: 'Trade Opened - {{symbol}}', content: 'A new {{type}} position has been opened for {{symbol}} at {{price}}.', type: 'TRADE_OPENED', language: 'en-US' },
  { id: 'trade_closed_template', name: 'Trade Closed Template', subject: 'Trade Closed - {{symbol}}', content: 'Your {{type}} position for {{symbol}} has been closed. PnL: {{pnl}}.', type: 'TRADE_CLOSED', language: 'en-US' },
] as const;

/**
 * One upsert for all templates (values travel as one jsonb parameter). Like Prisma's upsert(update: template),
 * an existing row gets the template's fields back; a row already equal is left alone (no updated_at churn).
 */
const UPSERT = `
WITH t AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id text, name text, subject text, content text, type text, language text)
), up AS (
  INSERT INTO {NotificationTemplate} AS n (id, name, subject, content, type, language)
  SELECT id, name, subject, content, type, language FROM t
  ON CONFLICT (id) DO UPDATE
     SET name = EXCLUDED.name, subject = EXCLUDED.subject, content = EXCLUDED.content,
         type = EXCLUDED.type, language = EXCLUDED.language, updated_at = now()
   WHERE (n.name, n.subject, n.content, n.type, n.language)
         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.subject, EXCLUDED.content, EXCLUDED.type, EXCLUDED.language)
  RETURNING 1
)
SELECT (SELECT count(*) FROM up)::int AS changed`;

const COUNT = `
SELECT count(*)::int AS n
  FROM jsonb_to_recordset($1::jsonb) AS t(id text, name text, subject text, content text, type text, language text)
  LEFT JOIN {NotificationTemplate} n ON n.id = t.id
 WHERE n.id IS NULL OR (n.name, n.subject, n.content, n.type, n.language) IS DISTINCT FROM (t.name, t.subject, t.content, t.type, t.language)`;

export const notificationTemplatesUpsert: DataMigration = {
  version: 3,
  name: 'migrate_notification_templates',
  description: `upsert the ${DEFAULT_TEMPLATES.length} default notification templates`,
  requiresTables: ['NotificationTemplate'],
  definition: `${UPSERT}\n${JSON.stringify(DEFAULT_TEMPLATES)}`,
  async countPending(client, ctx) {
    const { rows } = await client.query<{ n: number }>(qualify(COUNT, ctx.schema), [JSON.stringify(DEFAULT_TEMPLATES)]);
    return rows[0]?.n ?? 0;
  },
  async up(client, ctx) {
    const { rows } = await client.query<{ changed: number }>(qualify(UPSERT, ctx.schema), [JSON.stringify(DEFAULT_TEMPLATES)]);
    return { rowsChanged: rows[0]?.changed ?? 0, rowsScanned: 0, batches: 1 };
  },
};
