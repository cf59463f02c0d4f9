import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DatabaseManager, Prisma, type TradingStats } from '../../src/data/index.ts';
import { seedDatabase } from '../../src/seed/index.ts';
import { query, serviceContextFor, type TestDatabase } from '../helpers/db.ts';
import { createMigratedDatabase } from '../helpers/schema.ts';

const D = Prisma.Decimal.clone({ precision: 60, rounding: Prisma.Decimal.ROUND_HALF_UP });
type Dec = InstanceType<typeof D>;

let db: TestDatabase;
let dm: DatabaseManager;
let userIds: string[];

beforeAll(async () => {
  db = await createMigratedDatabase('stats');
  await seedDatabase({ users: 12, tradesPerUser: 41, seed: 3 }, serviceContextFor(db.url));
  dm = await DatabaseManager.connect(db.connection);
  userIds = (await query(db.url, `SELECT id FROM "User" ORDER BY id`)).map((r) => r.id as string);
  // A simulated (paper) trade of the first user: it must not count as their trading.
  await query(db.url, `INSERT INTO "Simulation" (id, user_id, name, type, symbol, initial_balance) VALUES ('sim-1', $1, 'paper', 'PAPER_TRADING', 'BTCUSD', 1)`, [userIds[0]]);
  await query(db.url, `
    INSERT INTO "TradeLog" (user_id, exchange_account_id, simulation_id, type, symbol, side, size, price, pnl, fees, status, executed_at)
    SELECT user_id, id, 'sim-1', 'CLOSE', 'BTCUSD', 'SELL', 1, 100000, 99999, 1, 'FILLED', '2025-01-01' FROM "UserExchangeAccount" WHERE user_id = $1 LIMIT 1`, [userIds[0]]);
});
afterAll(async () => {
  await dm?.close();
  await db?.drop();
});

interface Row { pnl: string | null; fees: string | null; size: string; price: string; executed_at: Date; simulation_id: string | null }

/** The statistics computed the slow, obvious way: load every row, filter and add up in exact decimals. */
async function bruteForce(userId: string, from?: Date, to?: Date): Promise<TradingStats> {
  const all = await query<Row & Record<string, unknown>>(db.url, `SELECT pnl, fees, size, price, executed_at, simulation_id FROM "TradeLog" WHERE user_id = $1`, [userId]);
  const rows = all.filter((r) => r.simulation_id === null && (!from || r.executed_at >= from) && (!to || r.executed_at <= to));
  const sum = (xs: Dec[]) => xs.reduce((acc, x) => acc.plus(x), new D(0));
  const pnls = rows.filter((r) => r.pnl !== null).map((r) => new D(r.pnl!));
  const wins = pnls.filter((p) => p.gt(0));
  const losses = pnls.filter((p) => p.lt(0));
  const grossLoss = sum(losses).neg();
  const times = rows.map((r) => r.executed_at.getTime());
  const s8 = (x: Dec) => x.toDecimalPlaces(8).toFixed(8);
  return {
    totalTrades: rows.length,
    winningTrades: wins.length,
    losingTrades: losses.length,
    totalPnl: sum(pnls).toFixed(),
    totalFees: sum(rows.filter((r) => r.fees !== null).map((r) => new D(r.fees!))).toFixed(),
    totalVolume: sum(rows.map((r) => new D(r.size).times(r.price))).toFixed(),
    grossProfit: sum(wins).toFixed(),
    grossLoss: grossLoss.toFixed(),
    averageTradeSize: rows.length ? s8(sum(rows.map((r) => new D(r.size))).div(rows.length)) : null,
    averagePnl: pnls.length ? s8(sum(pnls).div(pnls.length)) : null,
    winRate: rows.length ? s8(new D(wins.length).div(rows.length)) : null,
    profitFactor: grossLoss.gt(0) ? s8(sum(wins).div(grossLoss)) : null,
    firstTradeAt: rows.length ? new Date(Math.min(...times)) : null,
    lastTradeAt: rows.length ? new Date(Math.max(...times)) : null,
  };
}

/** Decimal strings compare by value ('1.50' = '1.5'); everything else exactly. */
function normalise(s: TradingStats): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'string' ? new D(v).toFixed() : v instanceof Date ? v.toISOString() : v]));
}

describe('TradeLogRepository.getTradingStats equals a brute-force computation', () => {
  test('over all of each seeded user\'s trades (simulated trades excluded)', async () => {
    const [sim] = await query(db.url, `SELECT count(*)::int AS n FROM "TradeLog" WHERE user_id = $1`, [userIds[0]]);
    expect(sim!.n).toBe(42);
    for (const id of userIds) {
      const stats = await dm.tradeLogs.getTradingStats(id);
      expect(normalise(stats)).toEqual(normalise(await bruteForce(id)));
      expect(stats.totalTrades).toBe(41);
    }
  });

  test('with dateFrom, dateTo, and both together', async () => {
    const id = userIds[4]!;
    const [span] = await query(db.url, `SELECT min(executed_at) AS lo, max(executed_at) AS hi FROM "TradeLog" WHERE user_id = $1`, [id]);
    const lo = (span!.lo as Date).getTime();
    const hi = (span!.hi as Date).getTime();
    const from = new Date(lo + (hi - lo) / 4);
    const to = new Date(lo + ((hi - lo) * 3) / 4);
    for (const [f, t] of [[from, undefined], [undefined, to], [from, to]] as const) {
      const stats = await dm.tradeLogs.getTradingStats(id, { dateFrom: f, dateTo: t });
      expect(normalise(stats)).toEqual(normalise(await bruteForce(id, f, t)));
    }
    const both = await dm.tradeLogs.getTradingStats(id, { dateFrom: from, dateTo: to });
    const onlyFrom = await dm.tradeLogs.getTradingStats(id, { dateFrom: from });
    expect(both.totalTrades).toBeGreaterThan(0);
    expect(both.totalTrades).toBeLessThan(onlyFrom.totalTrades); // dateTo really applies together with dateFrom
    // Inclusive bounds: a range of exactly one trade's timestamp finds that trade.
    const exact = await dm.tradeLogs.getTradingStats(id, { dateFrom: new Date(hi), dateTo: new Date(hi) });
    expect(exact.totalTrades).toBe(1);
  });

  test('no trades (a new user, or an empty range): zeros and nulls, never NaN', async () => {
    const fresh = await dm.transactions.registerUser({ email: 'nobody@example.com' });
    const expected: TradingStats = {
      totalTrades: 0, winningTrades: 0, losingTrades: 0, totalPnl: '0', totalFees: '0', totalVolume: '0', grossProfit: '0', grossLoss: '0',
      averageTradeSize: null, averagePnl: null, winRate: null, profitFactor: null, firstTradeAt: null, lastTradeAt: null,
    };
    expect(await dm.tradeLogs.getTradingStats(fresh.user.id)).toEqual(expected);
    expect(await dm.tradeLogs.getTradingStats(userIds[0]!, { dateFrom: new Date('2030-01-01'), dateTo: new Date('2030-12-31') })).toEqual(expected);
    expect(JSON.stringify(await dm.tradeLogs.getTradingStats(fresh.user.id))).not.toContain('NaN');
  });

  test('findByUser applies dateFrom and dateTo together, newest first', async () => {
    const id = userIds[1]!;
    const from = new Date('2024-06-01T00:00:00Z');
    const to = new Date('2025-01-01T00:00:00Z');
    const rows = await dm.tradeLogs.findByUser(id, { dateFrom: from, dateTo: to, limit: 1000 });
    const [n] = await query(db.url, `SELECT count(*)::int AS n FROM "TradeLog" WHERE user_id = $1 AND simulation_id IS NULL AND executed_at BETWEEN $2 AND $3`, [id, from, to]);
    expect(rows.length).toBe(n!.n);
    expect(rows.every((r, i) => i === 0 || r.executed_at <= rows[i - 1]!.executed_at)).toBe(true);
  });
});
