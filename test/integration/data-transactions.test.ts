import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DatabaseManager, sqlStateOf, type DataLogger } from '../../src/data/index.ts';
import { AxisorError } from '../../src/errors.ts';
import { query, type TestDatabase } from '../helpers/db.ts';
import { createMigratedDatabase } from '../helpers/schema.ts';
import { rejection } from '../helpers/wait.ts';

const SECRET_HASH = '$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$NEVER-IN-A-LOG';

let db: TestDatabase;
let dm: DatabaseManager;
const logs: Array<[string, string, unknown]> = [];
const logger: DataLogger = {
  debug: (m, f) => logs.push(['debug', m, f]),
  info: (m, f) => logs.push(['info', m, f]),
  warn: (m, f) => logs.push(['warn', m, f]),
  error: (m, f) => logs.push(['error', m, f]),
};

beforeAll(async () => {
  db = await createMigratedDatabase('data_tx');
  dm = await DatabaseManager.connect(db.connection, { logger, pool: { max: 25 }, transactionDefaults: { maxWait: 20_000, timeout: 20_000 } });
  // Failure injection by the database itself: the last step of each write raises for a marked input, so the test
  // exercises the real code path and checks that the earlier steps were rolled back.
  await query(db.url, `
    CREATE FUNCTION axisor_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'injected failure'; END $$;
    CREATE TRIGGER fail_welcome BEFORE INSERT ON "Notification" FOR EACH ROW
      WHEN (NEW.type = 'WELCOME' AND NEW.variables->>'user_name' = 'FailMe') EXECUTE FUNCTION axisor_test_fail();
    CREATE TRIGGER fail_trade BEFORE INSERT ON "Notification" FOR EACH ROW
      WHEN (NEW.variables->>'symbol' = 'FAILUSD') EXECUTE FUNCTION axisor_test_fail();`);
});
afterAll(async () => {
  await dm?.close();
  await db?.drop();
});

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await query(db.url, sql, params))[0]!.n);
}

async function userWithAccount(email: string) {
  const reg = await dm.transactions.registerUser({ email });
  const account = await dm.prisma.userExchangeAccount.create({
    data: { user_id: reg.user.id, exchange_name: 'LN_MARKETS', label: 'main', api_key_encrypted: 'k', api_secret_encrypted: 's' },
  });
  const automation = await dm.prisma.automation.create({ data: { user_id: reg.user.id, type: 'TAKE_PROFIT', name: 'tp' } });
  return { userId: reg.user.id, accountId: account.id, automationId: automation.id };
}

const trade = (u: { userId: string; accountId: string; automationId: string }, extra: Record<string, unknown> = {}) => ({
  user_id: u.userId,
  exchange_account_id: u.accountId,
  automation_id: u.automationId,
  type: 'OPEN',
  symbol: 'BTCUSD',
  side: 'BUY',
  size: '0.015',
  price: '97250.5',
  leverage: '10',
  status: 'FILLED',
  ...extra,
});

describe('registerUser', () => {
  test('creates user, preferences, margin-guard config and welcome notification; secrets are not returned', async () => {
    const r = await dm.transactions.registerUser({ email: '  Alice@Example.COM ', password_hash: SECRET_HASH, first_name: 'Alice', plan_type: 'PRO' });
    expect(r.user.email).toBe('alice@example.com');
    expect(r.user).not.toHaveProperty('password_hash');
    const rows = await query(db.url, `SELECT u.plan_type, u.password_hash,
        (SELECT count(*) FROM "UserPreferences" WHERE user_id = u.id)::int AS prefs,
        (SELECT count(*) FROM "MarginGuardConfig" WHERE user_id = u.id AND exchange_account_id IS NULL)::int AS guards,
        (SELECT count(*) FROM "Notification" WHERE user_id = u.id AND type = 'WELCOME' AND template_id = 'welcome_template')::int AS welcomes
      FROM "User" u WHERE u.id = $1`, [r.user.id]);
    expect(rows[0]).toEqual({ plan_type: 'PRO', password_hash: SECRET_HASH, prefs: 1, guards: 1, welcomes: 1 });
  });

  test('rolls back completely when the last step fails, and logs no password hash', async () => {
    const before = await count(`SELECT (SELECT count(*) FROM "User") + (SELECT count(*) FROM "UserPreferences") + (SELECT count(*) FROM "MarginGuardConfig") + (SELECT count(*) FROM "Notification") AS n`);
    const err = await rejection(dm.transactions.registerUser({ email: 'bob@example.com', password_hash: SECRET_HASH, first_name: 'FailMe' }));
    expect(sqlStateOf(err)).toBe('P0001'); // raise_exception from the trigger
    expect(await count(`SELECT count(*) AS n FROM "User" WHERE email = 'bob@example.com'`)).toBe(0);
    const after = await count(`SELECT (SELECT count(*) FROM "User") + (SELECT count(*) FROM "UserPreferences") + (SELECT count(*) FROM "MarginGuardConfig") + (SELECT count(*) FROM "Notification") AS n`);
    expect(after).toBe(before);
    expect(logs.some(([level, m]) => level === 'error' && m.startsWith('registerUser failed'))).toBe(true);
    expect(JSON.stringify(logs)).not.toContain('NEVER-IN-A-LOG');
  });

  test('a duplicate email fails with a unique violation (P2002) and writes nothing', async () => {
    await dm.transactions.registerUser({ email: 'carol@example.com' });
    const err = await rejection(dm.transactions.registerUser({ email: 'CAROL@example.com' }));
    expect(err.code).toBe('P2002');
    expect(await count(`SELECT count(*) AS n FROM "User" WHERE email = 'carol@example.com'`)).toBe(1);
  });

  test('an unknown plan type is refused before any write', async () => {
    const err = await rejection(dm.transactions.registerUser({ email: 'dan@example.com', plan_type: 'GOLD' }));
    expect(err).toBeInstanceOf(AxisorError);
    expect(err.code).toBe('data.invalid_input');
    expect(await count(`SELECT count(*) AS n FROM "User" WHERE email = 'dan@example.com'`)).toBe(0);
  });
});

describe('executeTrade', () => {
  test('writes the trade, counts the execution and notifies', async () => {
    const u = await userWithAccount('erin@example.com');
    const at = new Date('2025-01-20T10:00:00Z');
    const t = await dm.transactions.executeTrade(trade(u, { executed_at: at }));
    expect(t.price.toString()).toBe('97250.5');
    const [a] = await query(db.url, `SELECT execution_count, last_executed_at FROM "Automation" WHERE id = $1`, [u.automationId]);
    expect(a).toEqual({ execution_count: 1, last_executed_at: at });
    const [n] = await query(db.url, `SELECT type, template_id, automation_id FROM "Notification" WHERE user_id = $1 AND type <> 'WELCOME'`, [u.userId]);
    expect(n).toEqual({ type: 'TRADE_OPENED', template_id: 'trade_opened_template', automation_id: u.automationId });
  });

  test('rolls back the trade and the count when the notification step fails', async () => {
    const u = await userWithAccount('frank@example.com');
    await dm.transactions.executeTrade(trade(u));
    const err = await rejection(dm.transactions.executeTrade(trade(u, { symbol: 'FAILUSD' })));
    expect(sqlStateOf(err)).toBe('P0001');
    expect(await count(`SELECT count(*) AS n FROM "TradeLog" WHERE user_id = $1`, [u.userId])).toBe(1);
    expect(await count(`SELECT execution_count AS n FROM "Automation" WHERE id = $1`, [u.automationId])).toBe(1);
  });

  test("refuses another user's exchange account or automation and writes nothing", async () => {
    const u = await userWithAccount('gina@example.com');
    const other = await userWithAccount('hank@example.com');
    const e1 = await rejection(dm.transactions.executeTrade(trade(u, { exchange_account_id: other.accountId })));
    expect(e1.code).toBe('not_found.exchange_account');
    const e2 = await rejection(dm.transactions.executeTrade(trade(u, { automation_id: other.automationId })));
    expect(e2.code).toBe('not_found.automation');
    expect(await count(`SELECT count(*) AS n FROM "TradeLog" WHERE user_id IN ($1, $2)`, [u.userId, other.userId])).toBe(0);
    expect(await count(`SELECT sum(execution_count) AS n FROM "Automation" WHERE id IN ($1, $2)`, [u.automationId, other.automationId])).toBe(0);
  });

  test('25 concurrent trades on one automation leave execution_count exact (read committed)', async () => {
    const u = await userWithAccount('ivy@example.com');
    await Promise.all(Array.from({ length: 25 }, (_, i) => dm.transactions.executeTrade(trade(u, { size: `0.00${i + 1}` }))));
    expect(await count(`SELECT execution_count AS n FROM "Automation" WHERE id = $1`, [u.automationId])).toBe(25);
    expect(await count(`SELECT count(*) AS n FROM "TradeLog" WHERE automation_id = $1`, [u.automationId])).toBe(25);
  });

  test('20 concurrent serializable trades conflict (40001), are retried with backoff, and the count stays exact', async () => {
    const u = await userWithAccount('jack@example.com');
    const isRetry = ([l, m]: [string, string, unknown]) => l === 'warn' && m.startsWith('executeTrade conflicted');
    const retriesBefore = logs.filter(isRetry).length;
    await Promise.all(Array.from({ length: 20 }, () => dm.transactions.executeTrade(trade(u), { isolationLevel: 'Serializable', maxRetries: 30, baseDelayMs: 5, maxDelayMs: 200 })));
    expect(await count(`SELECT execution_count AS n FROM "Automation" WHERE id = $1`, [u.automationId])).toBe(20);
    expect(await count(`SELECT count(*) AS n FROM "TradeLog" WHERE automation_id = $1`, [u.automationId])).toBe(20);
    const retries = logs.filter(isRetry).slice(retriesBefore);
    expect(retries.length).toBeGreaterThan(0);
    // The SQLSTATE was dug out of Prisma's wrapping (P2034 + meta.driverAdapterError).
    const states = retries.map(([, , f]) => (f as any).error.sqlState);
    expect(new Set(states)).toEqual(new Set(['40001']));
  });
});
