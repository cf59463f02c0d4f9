import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.ts';
import { withPg } from './db.ts';

export { withPg };

/** The init migration's SQL (prisma/migrations/<ts>_init/migration.sql). */
export function initMigrationSql(): string {
  const dir = join(ROOT, 'prisma', 'migrations');
  const init = readdirSync(dir).filter((d) => /_init$/.test(d)).sort()[0];
  if (!init) throw new Error(`no *_init migration in ${dir}`);
  return readFileSync(join(dir, init, 'migration.sql'), 'utf8');
}

/**
 * A small, clean, deterministic Axisor data set (200 users, 2000 trades...) with readable ids, so tests can
 * name rows. Every validate check passes on it.
 */
export const SEED_SQL = `
INSERT INTO "User"(id, email, plan_type, is_active)
  SELECT 'u' || g, 'user' || g || '@example.com', (ARRAY['FREE','BASIC','ADVANCED','PRO','LIFETIME'])[1 + g % 5], g % 10 <> 0
  FROM generate_series(1, 200) g;
INSERT INTO "UserPreferences"(id, user_id) SELECT 'up' || g, 'u' || g FROM generate_series(1, 200) g;
INSERT INTO "UserExchangeAccount"(id, user_id, exchange_name, label, api_key_encrypted, api_secret_encrypted)
  SELECT 'ea' || g, 'u' || g, 'BYBIT', 'main', 'k', 's' FROM generate_series(1, 200) g;
INSERT INTO "Automation"(id, user_id, type, name) SELECT 'a' || g, 'u' || (1 + g % 200), 'DCA', 'auto ' || g FROM generate_series(1, 300) g;
INSERT INTO "MarginGuardConfig"(id, user_id, exchange_account_id) SELECT 'mg' || g, 'u' || g, 'ea' || g FROM generate_series(1, 200) g;
INSERT INTO "Simulation"(id, user_id, name, type, symbol, initial_balance) SELECT 's' || g, 'u' || g, 'sim', 'BACKTEST', 'BTCUSD', 1000 FROM generate_series(1, 50) g;
INSERT INTO "SimulationResult"(id, simulation_id, final_balance) SELECT 'sr' || g, 's' || g, 1000 FROM generate_series(1, 50) g;
INSERT INTO "TradeLog"(id, user_id, exchange_account_id, automation_id, margin_guard_config_id, simulation_id, type, symbol, side, size, price, status, executed_at)
  SELECT 't' || g, 'u' || (1 + g % 200), 'ea' || (1 + g % 200),
         CASE WHEN g % 2 = 0 THEN 'a' || (1 + g % 300) END,
         CASE WHEN g % 7 = 0 THEN 'mg' || (1 + g % 200) END,
         CASE WHEN g % 11 = 0 THEN 's' || (1 + g % 50) END,
         'OPEN', 'BTCUSD', CASE WHEN g % 2 = 0 THEN 'BUY' ELSE 'SELL' END, (g % 13) + 0.5, 30000 + g, 'FILLED',
         timestamptz '2025-01-01' + g * interval '1 minute'
  FROM generate_series(1, 2000) g;
UPDATE "Automation" a SET execution_count = n.c FROM (SELECT automation_id, count(*) c FROM "TradeLog" WHERE automation_id IS NOT NULL GROUP BY 1) n WHERE n.automation_id = a.id;
INSERT INTO "NotificationTemplate"(id, name, subject, content, type) VALUES ('welcome_template', 'welcome', 'Hi', 'Welcome {{user_name}}', 'WELCOME');
INSERT INTO "Notification"(id, user_id, automation_id, margin_guard_config_id, type, template_id, created_at, sent_at)
  SELECT 'n' || g, 'u' || (1 + g % 200), CASE WHEN g % 3 = 0 THEN 'a' || (1 + g % 300) END, CASE WHEN g % 5 = 0 THEN 'mg' || (1 + g % 200) END,
         'WELCOME', 'welcome_template', timestamptz '2025-02-01' + g * interval '1 hour', timestamptz '2025-02-01' + g * interval '1 hour' + interval '1 minute'
  FROM generate_series(1, 400) g;
INSERT INTO "NotificationDelivery"(id, notification_id, channel) SELECT 'nd' || g, 'n' || g, 'EMAIL' FROM generate_series(1, 400) g;
INSERT INTO "Payment"(id, user_id, amount, currency, provider, provider_ref, plan_type, billing_cycle)
  SELECT 'p' || g, 'u' || (1 + g % 200), 9.99, 'USD', 'STRIPE', 'ref' || g, 'PRO', 'MONTHLY' FROM generate_series(1, 100) g;
INSERT INTO "RefreshToken"(id, user_id, token_hash, family_id, expires_at, revoked_at)
  SELECT 'rt' || g, 'u' || (1 + g % 200), 'h' || g, 'f' || g, now() + interval '30 days',
         CASE WHEN (1 + g % 200) % 10 = 0 THEN now() END
  FROM generate_series(1, 300) g;
ANALYZE;
`;

export async function createAxisorSchema(url: string): Promise<void> {
  await withPg(url, (c) => c.query(initMigrationSql()));
}

export async function seedSmall(url: string): Promise<void> {
  await withPg(url, (c) => c.query(SEED_SQL));
}

/** The failing keys each planted defect creates, by check name. Checks not listed must report 0. */
export type Planted = Record<string, string[]>;

const trade = (id: string, over: Record<string, string> = {}) => {
  const v: Record<string, string> = {
    id: `'${id}'`, user_id: `'u1'`, exchange_account_id: `'ea1'`, type: `'OPEN'`, symbol: `'BTCUSD'`, side: `'BUY'`,
    size: '1', price: '100', status: `'FILLED'`, executed_at: `timestamptz '2025-03-01'`, ...over,
  };
  return `INSERT INTO "TradeLog"(${Object.keys(v).join(', ')}) VALUES (${Object.values(v).join(', ')});`;
};

/**
 * Plants defects of every kind. Orphans go in with session_replication_role = replica (FK triggers off), as a
 * restore with triggers disabled would leave them. Each defect trips exactly one check.
 */
export const PLANT_SQL = `
SET session_replication_role = replica;
-- one or more orphans per relation
INSERT INTO "UserPreferences"(id, user_id) VALUES ('up-orphan1', 'u-missing');
INSERT INTO "RefreshToken"(id, user_id, token_hash, family_id, expires_at) VALUES ('rt-orphan1', 'u-missing', 'h-o1', 'f-o', now() + interval '1 day'), ('rt-orphan2', 'u-missing', 'h-o2', 'f-o', now() - interval '1 day');
INSERT INTO "UserExchangeAccount"(id, user_id, exchange_name, label, api_key_encrypted, api_secret_encrypted) VALUES ('ea-orphan1', 'u-missing', 'BYBIT', 'x', 'k', 's');
-- an orphaned automation with one trade (TradeLog.automation_id is ON DELETE SET NULL) and a matching count
INSERT INTO "Automation"(id, user_id, type, name, execution_count) VALUES ('a-orphan1', 'u-missing', 'DCA', 'orphan', 1);
${trade('t-of-orphan-automation', { automation_id: `'a-orphan1'` })}
INSERT INTO "MarginGuardConfig"(id, user_id) VALUES ('mg-orphan-user1', 'u-missing');
INSERT INTO "MarginGuardConfig"(id, user_id, exchange_account_id) VALUES ('mg-orphan-ea1', 'u1', 'ea-missing'), ('mg-orphan-ea2', 'u2', 'ea-missing');
${trade('t-orphan-user1', { user_id: `'u-missing'` })}
${trade('t-orphan-user2', { user_id: `'u-missing2'` })}
${trade('t-orphan-ea1', { exchange_account_id: `'ea-missing'` })}
${trade('t-orphan-auto1', { automation_id: `'a-missing'` })}
${trade('t-orphan-mg1', { margin_guard_config_id: `'mg-missing'` })}
${trade('t-orphan-sim1', { simulation_id: `'s-missing'` })}
-- an orphaned notification with a delivery (NotificationDelivery cascades): fix must quarantine both
INSERT INTO "Notification"(id, user_id, type, template_id) VALUES ('n-orphan-user1', 'u-missing', 'WELCOME', 'welcome_template');
INSERT INTO "NotificationDelivery"(id, notification_id, channel) VALUES ('nd-of-orphan', 'n-orphan-user1', 'EMAIL');
INSERT INTO "Notification"(id, user_id, automation_id, type, template_id) VALUES ('n-orphan-auto1', 'u1', 'a-missing', 'WELCOME', 'welcome_template');
INSERT INTO "Notification"(id, user_id, margin_guard_config_id, type, template_id) VALUES ('n-orphan-mg1', 'u1', 'mg-missing', 'WELCOME', 'welcome_template');
INSERT INTO "NotificationDelivery"(id, notification_id, channel) VALUES ('nd-orphan1', 'n-missing', 'SMS');
INSERT INTO "Payment"(id, user_id, amount, currency, provider, plan_type, billing_cycle) VALUES ('p-orphan1', 'u-missing', 1, 'USD', 'STRIPE', 'PRO', 'MONTHLY');
INSERT INTO "Simulation"(id, user_id, name, type, symbol, initial_balance) VALUES ('s-orphan1', 'u-missing', 'x', 'BACKTEST', 'BTCUSD', 1);
INSERT INTO "SimulationResult"(id, simulation_id, final_balance) VALUES ('sr-orphan1', 's-missing', 1);
SET session_replication_role = DEFAULT;
-- rules
${trade('t-neg1', { size: '-1' })}
${trade('t-neg2', { size: '-0.00000001' })}
${trade('t-neg3', { size: '-5', user_id: `'u3'`, exchange_account_id: `'ea3'` })}
${trade('t-future1', { executed_at: `now() + interval '2 days'` })}
${trade('t-future2', { executed_at: `now() + interval '1 year'` })}
${trade('t-price0', { price: '0' })}
${trade('t-price-neg', { price: '-3' })}
UPDATE "User" SET plan_type = 'GOLD' WHERE id = 'u11';
UPDATE "User" SET plan_type = 'free' WHERE id = 'u12';
UPDATE "Payment" SET plan_type = 'ENTERPRISE' WHERE id = 'p5';
UPDATE "Automation" SET execution_count = execution_count + 1 WHERE id IN ('a2', 'a4');
UPDATE "Automation" SET execution_count = 99 WHERE id = 'a5';
UPDATE "User" SET email = 'USER21@example.com' WHERE id = 'u22';
UPDATE "User" SET email = 'User31@Example.com' WHERE id = 'u32';
UPDATE "User" SET email = 'user31@EXAMPLE.COM' WHERE id = 'u33';
UPDATE "Notification" SET sent_at = created_at - interval '1 second' WHERE id IN ('n7', 'n8');
UPDATE "User" SET is_active = false WHERE id IN ('u41', 'u42');
`;

export const PLANTED: Planted = {
  'orphan:UserPreferences.user_id': ['up-orphan1'],
  'orphan:RefreshToken.user_id': ['rt-orphan1', 'rt-orphan2'],
  'orphan:UserExchangeAccount.user_id': ['ea-orphan1'],
  'orphan:Automation.user_id': ['a-orphan1'],
  'orphan:MarginGuardConfig.user_id': ['mg-orphan-user1'],
  'orphan:MarginGuardConfig.exchange_account_id': ['mg-orphan-ea1', 'mg-orphan-ea2'],
  'orphan:TradeLog.user_id': ['t-orphan-user1', 't-orphan-user2'],
  'orphan:TradeLog.exchange_account_id': ['t-orphan-ea1'],
  'orphan:TradeLog.automation_id': ['t-orphan-auto1'],
  'orphan:TradeLog.margin_guard_config_id': ['t-orphan-mg1'],
  'orphan:TradeLog.simulation_id': ['t-orphan-sim1'],
  'orphan:Notification.user_id': ['n-orphan-user1'],
  'orphan:Notification.automation_id': ['n-orphan-auto1'],
  'orphan:Notification.margin_guard_config_id': ['n-orphan-mg1'],
  'orphan:NotificationDelivery.notification_id': ['nd-orphan1'],
  'orphan:Payment.user_id': ['p-orphan1'],
  'orphan:Simulation.user_id': ['s-orphan1'],
  'orphan:SimulationResult.simulation_id': ['sr-orphan1'],
  negative_trade_size: ['t-neg1', 't-neg2', 't-neg3'],
  future_executed_at: ['t-future1', 't-future2'],
  nonpositive_trade_price: ['t-price0', 't-price-neg'],
  invalid_plan_type: ['u11', 'u12'],
  invalid_payment_plan_type: ['p5'],
  execution_count_mismatch: ['a2', 'a4', 'a5'],
  duplicate_email_ci: ['u21', 'u22', 'u31', 'u32', 'u33'],
  notification_sent_before_created: ['n7', 'n8'],
  // Tokens are spread as 'u' || (1 + g % 200) over g = 1..300: u41 holds rt40 and rt240, u42 holds rt41 and rt241.
  valid_token_of_inactive_user: ['rt40', 'rt240', 'rt41', 'rt241'],
};

export async function plantDefects(url: string): Promise<void> {
  await withPg(url, (c) => c.query(PLANT_SQL));
}

/** md5 of every row of every Axisor table (and of the quarantine schema if asked), for "nothing changed" checks. */
export async function tableHashes(url: string, schema = 'public'): Promise<Record<string, string>> {
  return withPg(url, async (c) => {
    const { rows } = await c.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relkind = 'r' ORDER BY relname`, [schema]);
    const out: Record<string, string> = {};
    for (const { relname } of rows) {
      const q = `"${schema}"."${relname.replace(/"/g, '""')}"`;
      const { rows: [h] } = await c.query(`SELECT count(*) AS n, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS h FROM ${q} t`);
      out[relname] = `${h.n}:${h.h}`;
    }
    return out;
  });
}
