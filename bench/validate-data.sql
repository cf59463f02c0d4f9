-- Bench data for bench/validate.ts: 100k users, 200k automations, 5M trades (override with psql -v trades=N),
-- uuid-shaped text ids like the application's, plus a handful of planted defects so checks have something to find.
-- Loaded with FK triggers off and TradeLog's secondary indexes built after the load (the data-model notes'
-- fastest recipe); the FKs stay declared, as in production.
\set ON_ERROR_STOP on
\if :{?trades}
\else
  \set trades 5000000
\endif
SET maintenance_work_mem = '512MB';
SET session_replication_role = replica;
CREATE OR REPLACE FUNCTION pg_temp.id(p text, n bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT md5(p || n)::uuid::text $$;

INSERT INTO "User"(id, email, plan_type, is_active)
  SELECT pg_temp.id('u', g), 'user' || g || '@example.com', (ARRAY['FREE','BASIC','ADVANCED','PRO','LIFETIME'])[1 + g % 5], g % 50 <> 0
  FROM generate_series(1, 100000) g;
INSERT INTO "UserExchangeAccount"(id, user_id, exchange_name, label, api_key_encrypted, api_secret_encrypted)
  SELECT pg_temp.id('ea', g), pg_temp.id('u', g), 'BYBIT', 'main', 'k', 's' FROM generate_series(1, 100000) g;
INSERT INTO "Automation"(id, user_id, type, name) SELECT pg_temp.id('a', g), pg_temp.id('u', 1 + g % 100000), 'DCA', 'auto' FROM generate_series(1, 200000) g;
INSERT INTO "MarginGuardConfig"(id, user_id, exchange_account_id) SELECT pg_temp.id('mg', g), pg_temp.id('u', g), pg_temp.id('ea', g) FROM generate_series(1, 100000) g;
INSERT INTO "Simulation"(id, user_id, name, type, symbol, initial_balance) SELECT pg_temp.id('s', g), pg_temp.id('u', g), 'sim', 'BACKTEST', 'BTCUSD', 1000 FROM generate_series(1, 10000) g;
INSERT INTO "RefreshToken"(id, user_id, token_hash, family_id, expires_at, revoked_at)
  SELECT pg_temp.id('rt', g), pg_temp.id('u', 1 + g % 100000), md5('h' || g), md5('f' || g), now() + interval '30 days', CASE WHEN (1 + g % 100000) % 50 = 0 THEN now() END
  FROM generate_series(1, 200000) g;
INSERT INTO "Notification"(id, user_id, type, template_id, created_at, sent_at)
  SELECT pg_temp.id('n', g), pg_temp.id('u', 1 + g % 100000), 'WELCOME', 'welcome_template', timestamptz '2025-01-01' + g * interval '1 second', timestamptz '2025-01-01' + g * interval '1 second' + interval '1 minute'
  FROM generate_series(1, 500000) g;

DROP INDEX "TradeLog_user_id_executed_at_idx", "TradeLog_exchange_account_id_idx", "TradeLog_automation_id_idx", "TradeLog_margin_guard_config_id_idx", "TradeLog_simulation_id_idx";
ALTER TABLE "TradeLog" DROP CONSTRAINT "TradeLog_pkey";
INSERT INTO "TradeLog"(id, user_id, exchange_account_id, automation_id, margin_guard_config_id, simulation_id, type, symbol, side, size, price, status, executed_at)
  SELECT pg_temp.id('t', g), pg_temp.id('u', 1 + g % 100000), pg_temp.id('ea', 1 + g % 100000),
         CASE WHEN g % 2 = 0 THEN pg_temp.id('a', 1 + g % 200000) END,
         CASE WHEN g % 7 = 0 THEN pg_temp.id('mg', 1 + g % 100000) END,
         CASE WHEN g % 101 = 0 THEN pg_temp.id('s', 1 + g % 10000) END,
         'OPEN', 'BTCUSD', CASE WHEN g % 2 = 0 THEN 'BUY' ELSE 'SELL' END, (g % 13) + 0.5, 30000 + g % 5000, 'FILLED',
         timestamptz '2024-01-01' + g * interval '5 seconds'
  FROM generate_series(1, :trades) g;
ALTER TABLE "TradeLog" ADD CONSTRAINT "TradeLog_pkey" PRIMARY KEY (id);
CREATE INDEX "TradeLog_user_id_executed_at_idx" ON "TradeLog"(user_id, executed_at);
CREATE INDEX "TradeLog_exchange_account_id_idx" ON "TradeLog"(exchange_account_id);
CREATE INDEX "TradeLog_automation_id_idx" ON "TradeLog"(automation_id);
CREATE INDEX "TradeLog_margin_guard_config_id_idx" ON "TradeLog"(margin_guard_config_id);
CREATE INDEX "TradeLog_simulation_id_idx" ON "TradeLog"(simulation_id);
UPDATE "Automation" a SET execution_count = n.c FROM (SELECT automation_id, count(*) c FROM "TradeLog" WHERE automation_id IS NOT NULL GROUP BY 1) n WHERE n.automation_id = a.id;

-- planted defects (a few of each)
INSERT INTO "TradeLog"(id, user_id, exchange_account_id, type, symbol, side, size, price, status, executed_at)
  SELECT 'bad-' || g, CASE WHEN g <= 5 THEN 'missing-user' ELSE pg_temp.id('u', g) END, pg_temp.id('ea', g), 'OPEN', 'BTCUSD', 'BUY',
         CASE WHEN g BETWEEN 6 AND 10 THEN -1 ELSE 1 END, CASE WHEN g BETWEEN 11 AND 13 THEN 0 ELSE 1 END, 'FILLED',
         CASE WHEN g > 13 THEN now() + interval '1 day' ELSE now() - interval '1 day' END
  FROM generate_series(1, 15) g;
INSERT INTO "Automation"(id, user_id, type, name) VALUES ('bad-automation', 'missing-user', 'DCA', 'x');
UPDATE "User" SET plan_type = 'GOLD' WHERE id = pg_temp.id('u', 7);
UPDATE "Automation" SET execution_count = execution_count + 1 WHERE id = pg_temp.id('a', 8);
SET session_replication_role = DEFAULT;
VACUUM ANALYZE;
