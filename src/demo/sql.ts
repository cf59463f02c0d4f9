import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';
import { withTransaction } from '../db/transaction.ts';

/** The Axisor tables the demo compares after a restore (every table with data). */
export async function listUserTables(c: pg.Client, schema: string): Promise<string[]> {
  const { rows } = await c.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_%' ORDER BY 1`, [schema]);
  return rows.map((r) => r.name);
}

/** Row count and an ordered content hash per table (ordered by the row's text, so tables without an id work too). */
export async function tableFingerprints(c: pg.Client, schema: string, tables: readonly string[]): Promise<Record<string, { rows: number; md5: string }>> {
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const t of tables) {
    const q = qualifiedName(schema, t);
    const { rows } = await c.query<{ n: number; h: string | null }>(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM ${q} x`);
    out[t] = { rows: rows[0]!.n, md5: rows[0]!.h ?? '' };
  }
  return out;
}

export interface ChangeCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

/**
 * Changes after the full backup, so the incremental has something to capture: trades closed with a PnL,
 * new notifications, and deleted notifications. Deterministic (no random()).
 */
export async function changeSomeRows(c: pg.Client, schema: string): Promise<ChangeCounts> {
  const trade = qualifiedName(schema, 'TradeLog');
  const notification = qualifiedName(schema, 'Notification');
  return withTransaction(c, {}, async (tx) => {
    const upd = await tx.query(
      `UPDATE ${trade} SET status = 'FILLED', pnl = coalesce(pnl, 0) + 1.5, fees = coalesce(fees, 0) + 0.01
        WHERE id IN (SELECT id FROM ${trade} ORDER BY id LIMIT 500)`);
    const ins = await tx.query(
      `INSERT INTO ${notification} (id, user_id, type, priority, channels, template_id, variables, metadata, status)
       SELECT 'demo-' || u.id, u.id, 'SYSTEM', 'NORMAL', '["IN_APP"]'::jsonb, 'system_template', '{"message":"axisor-db demo"}'::jsonb, '{}'::jsonb, 'PENDING'
         FROM (SELECT id FROM ${qualifiedName(schema, 'User')} ORDER BY id LIMIT 200) u`);
    const del = await tx.query(
      `DELETE FROM ${notification} WHERE id IN (SELECT id FROM ${notification} WHERE id NOT LIKE 'demo-%' ORDER BY id LIMIT 100)`);
    return { inserted: ins.rowCount ?? 0, updated: upd.rowCount ?? 0, deleted: del.rowCount ?? 0 };
  });
}

export interface PlantedDefects {
  invalidPlanType: number;
  negativeSize: number;
  executionCountDrift: number;
  orphanTrades: number;
}

/**
 * Plants one defect of each kind validate knows how to fix. Orphans need session_replication_role = replica
 * (FK triggers off), which only a superuser may set; without it the orphan is skipped.
 */
export async function plantDefects(c: pg.Client, schema: string): Promise<PlantedDefects> {
  const user = qualifiedName(schema, 'User');
  const trade = qualifiedName(schema, 'TradeLog');
  const automation = qualifiedName(schema, 'Automation');
  const { rows: su } = await c.query<{ su: boolean }>(`SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user`);
  return withTransaction(c, {}, async (tx) => {
    const plan = await tx.query(`UPDATE ${user} SET plan_type = 'GOLD' WHERE id IN (SELECT id FROM ${user} ORDER BY id LIMIT 2)`);
    const neg = await tx.query(`UPDATE ${trade} SET size = -size WHERE id IN (SELECT id FROM ${trade} WHERE size > 0 ORDER BY id DESC LIMIT 3)`);
    const drift = await tx.query(`UPDATE ${automation} SET execution_count = execution_count + 5 WHERE id IN (SELECT id FROM ${automation} ORDER BY id LIMIT 1)`);
    let orphans = 0;
    if (su[0]?.su) {
      await tx.query(`SET LOCAL session_replication_role = replica`);
      const o = await tx.query(
        `INSERT INTO ${trade} (id, user_id, exchange_account_id, type, symbol, side, size, price, status, metadata, executed_at)
         SELECT 'demo-orphan-' || g, 'demo-missing-user', t.exchange_account_id, 'OPEN', 'BTCUSD', 'BUY', 0.01, 60000, 'FILLED', '{}'::jsonb, now() - interval '1 day'
           FROM generate_series(1, 2) g, LATERAL (SELECT exchange_account_id FROM ${trade} ORDER BY id LIMIT 1) t`);
      orphans = o.rowCount ?? 0;
    }
    return { invalidPlanType: plan.rowCount ?? 0, negativeSize: neg.rowCount ?? 0, executionCountDrift: drift.rowCount ?? 0, orphanTrades: orphans };
  });
}

/** Drops the logical slots of one database (the demo's incremental chain) so the database can be dropped. */
export async function dropSlotsOf(c: pg.Client, database: string): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(pg_drop_replication_slot(slot_name))::int AS n FROM pg_replication_slots WHERE database = $1 AND NOT active`, [database]);
  return rows[0]?.n ?? 0;
}
