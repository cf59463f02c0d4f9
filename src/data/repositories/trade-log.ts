import { qualifiedName } from '../../db/ident.ts';
import type { DataLogger } from '../logger.ts';
import { Prisma, type Db, type TradeLog } from '../prisma.ts';
import { BaseRepository, page, type PageOptions } from './base.ts';

export interface TradeLogQueryOptions extends PageOptions {
  symbol?: string;
  type?: string;
  dateFrom?: Date;
  dateTo?: Date;
  /** Include simulated (paper/backtest) trades. Default false: they are not the user's real trading. */
  includeSimulated?: boolean;
}

export interface DateRange {
  /** Inclusive lower bound on executed_at. */
  dateFrom?: Date;
  /** Inclusive upper bound on executed_at. */
  dateTo?: Date;
}

/**
 * Trading statistics of a user's real trades (simulation_id IS NULL). Money and ratios are exact decimal strings
 * (numeric in PostgreSQL), never floats. With no trades, sums are '0' and averages/ratios are null: there is
 * no NaN, unlike the design document's division by `trades.length`.
 */
export interface TradingStats {
  totalTrades: number;
  /** pnl > 0 */
  winningTrades: number;
  /** pnl < 0 */
  losingTrades: number;
  totalPnl: string;
  totalFees: string;
  /** Σ size × price (notional). */
  totalVolume: string;
  grossProfit: string;
  /** Positive number: −Σ pnl of the losing trades. */
  grossLoss: string;
  /** avg(size), 8 decimals; null without trades. */
  averageTradeSize: string | null;
  /** avg(pnl) over trades that have a pnl, 8 decimals; null if none has. */
  averagePnl: string | null;
  /** winningTrades / totalTrades, 8 decimals; null without trades. */
  winRate: string | null;
  /** grossProfit / grossLoss, 8 decimals; null when there is no loss (undefined ratio). */
  profitFactor: string | null;
  firstTradeAt: Date | null;
  lastTradeAt: Date | null;
}

interface StatsRow {
  total_trades: number;
  winning_trades: number;
  losing_trades: number;
  total_pnl: string;
  total_fees: string;
  total_volume: string;
  gross_profit: string;
  gross_loss: string;
  average_trade_size: string | null;
  average_pnl: string | null;
  win_rate: string | null;
  profit_factor: string | null;
  first_trade_at: Date | null;
  last_trade_at: Date | null;
}

export class TradeLogRepository extends BaseRepository<TradeLog, Prisma.TradeLogCreateInput, Prisma.TradeLogUpdateInput> {
  private readonly table: string;

  constructor(db: Db, logger: DataLogger, schema = 'public') {
    super(db, logger, 'TradeLog');
    this.table = qualifiedName(schema, 'TradeLog');
  }

  protected get delegate() {
    return this.db.tradeLog as any;
  }

  /** A user's trades, newest first; dateFrom and dateTo combine (served by TradeLog_user_id_executed_at_idx). */
  findByUser(userId: string, opts: TradeLogQueryOptions = {}): Promise<TradeLog[]> {
    const executed_at = opts.dateFrom || opts.dateTo ? { ...(opts.dateFrom ? { gte: opts.dateFrom } : {}), ...(opts.dateTo ? { lte: opts.dateTo } : {}) } : undefined;
    return this.run('findByUser', { userId }, () =>
      this.db.tradeLog.findMany({
        where: {
          user_id: userId,
          ...(opts.includeSimulated ? {} : { simulation_id: null }),
          ...(opts.symbol ? { symbol: opts.symbol } : {}),
          ...(opts.type ? { type: opts.type } : {}),
          ...(executed_at ? { executed_at } : {}),
        },
        orderBy: [{ executed_at: 'desc' }, { id: 'desc' }],
        ...page(opts),
      }),
    );
  }

  /** One aggregate query over the user's trades in the range: no rows are loaded into the process. */
  async getTradingStats(userId: string, range: DateRange = {}): Promise<TradingStats> {
    const conds = [Prisma.sql`user_id = ${userId}`, Prisma.sql`simulation_id IS NULL`];
    if (range.dateFrom) conds.push(Prisma.sql`executed_at >= ${range.dateFrom}`);
    if (range.dateTo) conds.push(Prisma.sql`executed_at <= ${range.dateTo}`);
    // Casts to text keep numerics exact across the driver; count() is bigint, cast to int (per-user counts fit).
    const query = Prisma.sql`
      SELECT count(*)::int                                            AS total_trades,
             (count(*) FILTER (WHERE pnl > 0))::int                   AS winning_trades,
             (count(*) FILTER (WHERE pnl < 0))::int                   AS losing_trades,
             coalesce(sum(pnl), 0)::text                              AS total_pnl,
             coalesce(sum(fees), 0)::text                             AS total_fees,
             coalesce(sum(size * price), 0)::text                     AS total_volume,
             coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0)::text       AS gross_profit,
             coalesce(-sum(pnl) FILTER (WHERE pnl < 0), 0)::text      AS gross_loss,
             round(avg(size), 8)::text                                AS average_trade_size,
             round(avg(pnl), 8)::text                                 AS average_pnl,
             CASE WHEN count(*) > 0
                  THEN round((count(*) FILTER (WHERE pnl > 0))::numeric / count(*), 8) END::text AS win_rate,
             CASE WHEN coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0) < 0
                  THEN round(coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) / -sum(pnl) FILTER (WHERE pnl < 0), 8) END::text AS profit_factor,
             min(executed_at)                                         AS first_trade_at,
             max(executed_at)                                         AS last_trade_at
        FROM ${Prisma.raw(this.table)}
       WHERE ${Prisma.join(conds, ' AND ')}`;
    const rows = await this.run('getTradingStats', { userId, dateFrom: range.dateFrom, dateTo: range.dateTo }, () => this.db.$queryRaw<StatsRow[]>(query));
    const r = rows[0]!;
    return {
      totalTrades: Number(r.total_trades),
      winningTrades: Number(r.winning_trades),
      losingTrades: Number(r.losing_trades),
      totalPnl: r.total_pnl,
      totalFees: r.total_fees,
      totalVolume: r.total_volume,
      grossProfit: r.gross_profit,
      grossLoss: r.gross_loss,
      averageTradeSize: r.average_trade_size,
      averagePnl: r.average_pnl,
      winRate: r.win_rate,
      profitFactor: r.profit_factor,
      firstTradeAt: r.first_trade_at === null ? null : new Date(r.first_trade_at),
      lastTradeAt: r.last_trade_at === null ? null : new Date(r.last_trade_at),
    };
  }
}
