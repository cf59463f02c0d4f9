import { BinaryCopyEncoder, encodeJsonbField, encodeTextField } from '../binary-copy.ts';
import { CHILD_SLOTS } from '../ids.ts';
import { btcPrice } from '../market.ts';
import { pairChoice, tradeTime } from '../plan.ts';
import { Rng } from '../random.ts';
import type { SeedTable } from './types.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const AUTOMATION_TYPES = ['TAKE_PROFIT', 'STOP_LOSS', 'MARGIN_GUARD', 'TRAILING_STOP', 'AUTO_ENTRY', 'DCA'] as const;
const LEVERAGE = [1, 2, 3, 5, 5, 10, 10, 10, 15, 20, 25, 50] as const;
const TAKER_FEE = 0.0006;

export const automationTable: SeedTable = {
  name: 'Automation',
  columns: ['id', 'user_id', 'type', 'name', 'description', 'conditions', 'actions', 'is_active', 'priority', 'execution_count', 'last_executed_at',
    'created_at', 'updated_at'],
  write(e, p, { s, ids }) {
    const r = new Rng(s.seed, 0x0a01, p.u);
    for (let j = 0; j < s.automationsPerUser; j++) {
      const type = AUTOMATION_TYPES[(p.u + j) % AUTOMATION_TYPES.length]!;
      const pct = r.int(2, 25);
      const last = p.automationLast[j]!;
      e.row(13);
      e.text(ids.id('Automation', p.u * CHILD_SLOTS + j));
      e.text(ids.id('User', p.u));
      e.text(type);
      e.text(`${type.toLowerCase().replace('_', ' ')} ${pct}%`);
      e.text(r.chance(0.3) ? `Created from the ${type.toLowerCase()} template` : null);
      e.jsonb(`{"symbol":"BTCUSD","trigger":"${type === 'STOP_LOSS' ? 'price_below' : 'price_above'}","percent":${pct}}`);
      e.jsonb(type === 'MARGIN_GUARD' ? `{"add_margin_percent":${pct}}` : '{"close_position":true}');
      e.bool(r.chance(0.8));
      e.int4(r.int(0, 10));
      // The invariant `validate` checks: execution_count = number of TradeLog rows with this automation_id.
      e.int4(p.automationCount[j]!);
      e.timestamptz(p.automationCount[j]! > 0 ? last : null);
      e.timestamptz(p.createdAt + DAY / 2);
      e.timestamptz(p.automationCount[j]! > 0 ? last : p.createdAt + DAY / 2);
    }
    return s.automationsPerUser;
  },
};

/**
 * Trades come in pairs on one account: an OPEN at 2p and its CLOSE at 2p+1 (an odd count leaves the last position
 * open). Prices follow the BTC path at the trade's time; PnL is the price move times size, fees a 0.06% taker fee.
 * This is the hot path (hundreds of thousands of rows per second): amounts are integer units (1e-8 for money and
 * size), ids are written as bytes, and constant fields are encoded once.
 */
const F = {
  NULL: encodeTextField(null),
  OPEN: encodeTextField('OPEN'),
  CLOSE: encodeTextField('CLOSE'),
  BUY: encodeTextField('BUY'),
  SELL: encodeTextField('SELL'),
  BTCUSD: encodeTextField('BTCUSD'),
  META_AUTOMATION: encodeJsonbField('{"source":"AUTOMATION"}'),
  META_MANUAL: encodeJsonbField('{"source":"MANUAL"}'),
  LEVERAGE: new Map<number, Buffer>(),
};
const STATUS_NAMES = ['FILLED', 'PARTIALLY_FILLED', 'CANCELLED', 'REJECTED'] as const;
// status + metadata are adjacent columns: one pre-encoded block per (status, source) pair.
const STATUS_META = STATUS_NAMES.map((st) => [false, true].map((auto) => Buffer.concat([encodeTextField(st), auto ? F.META_AUTOMATION : F.META_MANUAL])));
for (const l of LEVERAGE) {
  const e = new BinaryCopyEncoder(32);
  e.numeric(l * 100, 2);
  F.LEVERAGE.set(l, e.take());
}

export const tradeLogTable: SeedTable = {
  name: 'TradeLog',
  columns: ['id', 'user_id', 'exchange_account_id', 'automation_id', 'margin_guard_config_id', 'simulation_id', 'type', 'symbol', 'side', 'size',
    'price', 'leverage', 'pnl', 'pnl_percentage', 'fees', 'status', 'metadata', 'executed_at', 'created_at'],
  write(e, p, { s, ids }) {
    const r = new Rng(s.seed, 0x0a02, p.u);
    const userField = encodeTextField(ids.id('User', p.u));
    const accountPrefix = Buffer.from(ids.prefix('UserExchangeAccount'), 'latin1');
    const automationPrefix = Buffer.from(ids.prefix('Automation'), 'latin1');
    const tradePrefix = Buffer.from(ids.prefix('TradeLog'), 'latin1');
    let buy = true;
    let sizeUnits = 0;
    let openPrice = 0;
    let leverageField = F.NULL;
    let leverage = 1;
    let openFilled = true;
    let automation = -1;
    let account = 0;
    for (let k = 0; k < s.tradesPerUser; k++) {
      const open = (k & 1) === 0;
      if (open) {
        const c = pairChoice(s.seed, p.u, k >> 1, p.accounts, s.automationsPerUser);
        automation = c.automation;
        buy = r.next() < 0.6;
        sizeUnits = Math.round(r.logUniform(0.0005, 0.5) * 1e8);
        leverage = LEVERAGE[r.u32() % LEVERAGE.length]!;
        leverageField = F.LEVERAGE.get(leverage)!;
        account = p.u * CHILD_SLOTS + c.account;
        if (automation >= 0) automation = p.u * CHILD_SLOTS + automation;
      }
      const t = tradeTime(s.seed, p, k);
      const priceUnits = Math.round(btcPrice(t) * (1 + 0.002 * r.normal()) * 10); // USD with 1 decimal
      const price = priceUnits / 10;
      const x = r.next() * 100;
      const statusIndex = x < 95 ? 0 : x < 97 ? 1 : x < 99 ? 2 : 3;
      const filled = statusIndex < 2;
      const size = sizeUnits / 1e8;
      e.row(19);
      e.prefixedHex12(tradePrefix, p.u * s.tradesPerUser + k);
      e.field(userField);
      e.prefixedHex12(accountPrefix, account);
      if (automation < 0) e.field(F.NULL);
      else e.prefixedHex12(automationPrefix, automation);
      e.field(F.NULL); // margin_guard_config_id
      e.field(F.NULL); // simulation_id
      e.field(open ? F.OPEN : F.CLOSE);
      e.field(F.BTCUSD);
      e.field(open === buy ? F.BUY : F.SELL); // the CLOSE takes the opposite side
      e.numeric(sizeUnits, 8);
      e.numeric(priceUnits, 1);
      e.field(leverageField);
      if (!open && filled && openFilled) {
        const pnl = (price - openPrice) * size * (buy ? 1 : -1);
        const margin = (size * openPrice) / leverage;
        e.numeric(Math.round(pnl * 1e8), 8);
        e.numeric(Math.round((pnl / margin) * 1e6), 4); // percent, 4 decimals
      } else {
        e.field(F.NULL);
        e.field(F.NULL);
      }
      e.numeric(filled ? Math.round(size * price * TAKER_FEE * 1e8) : 0, 8);
      e.fields(STATUS_META[statusIndex]![automation < 0 ? 0 : 1]!);
      e.timestamptz(t);
      e.timestamptz(t);
      if (open) {
        openPrice = price;
        openFilled = filled;
      }
    }
    return s.tradesPerUser;
  },
};

/** Backtests for some users (about 15%); their results row. Simulated trades are not generated. */
export const simulationTable: SeedTable = {
  name: 'Simulation',
  columns: ['id', 'user_id', 'name', 'description', 'type', 'status', 'symbol', 'parameters', 'initial_balance', 'period_start', 'period_end',
    'started_at', 'completed_at', 'error_message', 'created_at', 'updated_at'],
  write(e, p, { s, ids }) {
    const r = new Rng(s.seed, 0x0a03, p.u);
    if (!r.chance(0.15)) return 0;
    const created = s.asOf - r.int(DAY, 90 * DAY);
    e.row(16);
    e.text(ids.id('Simulation', p.u));
    e.text(ids.id('User', p.u));
    e.text(`Backtest ${r.pick(['take profit', 'stop loss', 'DCA', 'trailing stop'])}`);
    e.text(null);
    e.text('BACKTEST');
    e.text('COMPLETED');
    e.text('BTCUSD');
    e.jsonb(`{"leverage":${r.pick(LEVERAGE)},"take_profit_percent":${r.int(2, 20)}}`);
    e.numeric(r.int(1, 100) * 1_000_000, 8); // 0.01-1 BTC
    e.timestamptz(created - 180 * DAY);
    e.timestamptz(created - DAY);
    e.timestamptz(created);
    e.timestamptz(created + r.int(10_000, 600_000));
    e.text(null);
    e.timestamptz(created);
    e.timestamptz(created + 600_000);
    return 1;
  },
};

export const simulationResultTable: SeedTable = {
  name: 'SimulationResult',
  columns: ['id', 'simulation_id', 'total_trades', 'winning_trades', 'losing_trades', 'total_pnl', 'total_fees', 'final_balance', 'max_drawdown',
    'win_rate', 'profit_factor', 'sharpe_ratio', 'equity_curve', 'metrics', 'created_at'],
  write(e, p, { s, ids }) {
    // Same draws as simulationTable, so the result exists exactly when its simulation does.
    const rs = new Rng(s.seed, 0x0a03, p.u);
    if (!rs.chance(0.15)) return 0;
    const created = s.asOf - rs.int(DAY, 90 * DAY);
    const r = new Rng(s.seed, 0x0a04, p.u);
    const total = r.int(20, 400);
    const wins = r.int(Math.floor(total * 0.3), Math.floor(total * 0.7));
    const pnl = r.int(-5_000_000, 20_000_000); // ±0.05-0.2 BTC in sats-units
    e.row(15);
    e.text(ids.id('SimulationResult', p.u));
    e.text(ids.id('Simulation', p.u));
    e.int4(total);
    e.int4(wins);
    e.int4(total - wins);
    e.numeric(pnl, 8);
    e.numeric(total * 12_000, 8);
    e.numeric(50_000_000 + pnl, 8);
    e.numeric(r.int(10_000, 400_000), 4);
    e.numeric(Math.round((wins / total) * 10_000), 4);
    e.numeric(r.int(5_000, 30_000), 4);
    e.numeric(r.int(-5_000, 25_000), 4);
    e.jsonb('[]');
    e.jsonb(`{"trades_per_day":${r.int(1, 12)}}`);
    e.timestamptz(created + 600_000);
    return 1;
  },
};
