import { AxisorError, ExitCode, NotFoundError } from '../errors.ts';
import { describeError, redactingLogger, type DataLogger } from './logger.ts';
import { Prisma, type PrismaClient } from './prisma.ts';
import { backoffDelay, isRetryableTransactionError } from './retry.ts';
import { AutomationRepository } from './repositories/automation.ts';
import { NotificationRepository } from './repositories/notification.ts';
import { TradeLogRepository } from './repositories/trade-log.ts';
import { normalizeEmail, PLAN_TYPES, USER_SECRET_OMIT, type SafeUser } from './repositories/user.ts';
import { tradeNotification, TRADE_SIDES, TRADE_STATUSES, TRADE_TYPES } from './trade-rules.ts';

export type IsolationLevel = 'ReadCommitted' | 'RepeatableRead' | 'Serializable';

export interface TransactionDefaults {
  isolationLevel: IsolationLevel;
  /** Max run time of one attempt, ms (Prisma's interactive-transaction timeout). */
  timeout: number;
  /** Max wait for a pool connection, ms. */
  maxWait: number;
  /** Retries after the first attempt, on 40001/40P01 only. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export type TransactionOptions = Partial<TransactionDefaults> & { label?: string };

export const DEFAULT_TRANSACTION: TransactionDefaults = {
  isolationLevel: 'ReadCommitted',
  timeout: 10_000,
  maxWait: 5_000,
  maxRetries: 3,
  baseDelayMs: 20,
  maxDelayMs: 1_000,
};

export interface TransactionServiceDeps {
  defaults?: Partial<TransactionDefaults>;
  schema?: string;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type Tx = Prisma.TransactionClient;

export interface RegisterUserInput {
  email: string;
  /** Already hashed by the caller (argon2/bcrypt); never logged. */
  password_hash?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  phone?: string | null;
  timezone?: string;
  language?: string;
  currency?: string;
  plan_type?: string;
}

export interface RegisteredUser {
  user: SafeUser;
  preferencesId: string;
  marginGuardConfigId: string;
  notificationId: string;
}

export interface ExecuteTradeInput {
  user_id: string;
  exchange_account_id: string;
  automation_id?: string | null;
  margin_guard_config_id?: string | null;
  type: string;
  symbol: string;
  side: string;
  size: Prisma.Decimal | string | number;
  price: Prisma.Decimal | string | number;
  leverage?: Prisma.Decimal | string | number | null;
  pnl?: Prisma.Decimal | string | number | null;
  pnl_percentage?: Prisma.Decimal | string | number | null;
  fees?: Prisma.Decimal | string | number | null;
  status: string;
  metadata?: Prisma.InputJsonValue;
  executed_at?: Date;
}

function invalid(message: string, hint: string): AxisorError {
  return new AxisorError('data.invalid_input', ExitCode.USAGE, message, { hint });
}

/**
 * Transactions with retry, and the two multi-step writes of the design document. Every step of a write runs in
 * one interactive transaction: either all rows exist afterwards or none does.
 */
export class TransactionService {
  private readonly defaults: TransactionDefaults;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly schema: string;

  private readonly logger: DataLogger;

  constructor(private readonly prisma: PrismaClient, logger: DataLogger, deps: TransactionServiceDeps = {}) {
    this.logger = redactingLogger(logger);
    this.defaults = { ...DEFAULT_TRANSACTION, ...deps.defaults };
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = deps.random ?? Math.random;
    this.schema = deps.schema ?? 'public';
  }

  /**
   * Runs `fn` in one transaction; on a serialization failure or deadlock (40001/40P01) re-runs the whole of `fn`
   * after an exponential, jittered pause, up to maxRetries times. `fn` must therefore be safe to re-run: no side
   * effects outside the database.
   */
  async executeTransaction<T>(fn: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const o = { ...this.defaults, ...options };
    const label = options.label ?? 'transaction';
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.prisma.$transaction(fn, { isolationLevel: o.isolationLevel, timeout: o.timeout, maxWait: o.maxWait });
        this.logger.debug(`${label} committed`, { attempts: attempt + 1, durationMs: Date.now() - started });
        return result;
      } catch (err) {
        if (attempt < o.maxRetries && isRetryableTransactionError(err)) {
          const delayMs = backoffDelay(attempt, o, this.random);
          this.logger.warn(`${label} conflicted; retrying`, { attempt: attempt + 1, delayMs, error: describeError(err) });
          await this.sleep(delayMs);
          continue;
        }
        this.logger.error(`${label} failed`, { attempts: attempt + 1, durationMs: Date.now() - started, error: describeError(err) });
        throw err;
      }
    }
  }

  /** User + default preferences + default margin-guard config + welcome notification, all or nothing. */
  async registerUser(input: RegisterUserInput, options: TransactionOptions = {}): Promise<RegisteredUser> {
    const email = normalizeEmail(input.email ?? '');
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw invalid('registerUser: the email address is not valid', 'pass an address like name@example.com');
    const plan = input.plan_type ?? 'FREE';
    if (!(PLAN_TYPES as readonly string[]).includes(plan)) throw invalid(`registerUser: unknown plan_type '${plan}'`, `use one of ${PLAN_TYPES.join(', ')}`);
    return this.executeTransaction(async (tx) => {
      const user = await tx.user.create({ data: { ...input, email, plan_type: plan }, omit: USER_SECRET_OMIT });
      // Every preferences / margin-guard column has a default (docs/data-model.md), so the user id is enough.
      const preferences = await tx.userPreferences.create({ data: { user_id: user.id }, select: { id: true } });
      const guard = await tx.marginGuardConfig.create({ data: { user_id: user.id }, select: { id: true } });
      const notification = await new NotificationRepository(tx, this.logger).createFor({
        user_id: user.id,
        type: 'WELCOME',
        priority: 'NORMAL',
        channels: ['EMAIL', 'IN_APP'],
        template_id: 'welcome_template',
        variables: { user_name: user.first_name || 'User' },
        status: 'PENDING',
      });
      return { user, preferencesId: preferences.id, marginGuardConfigId: guard.id, notificationId: notification.id };
    }, { label: 'registerUser', ...options });
  }

  /**
   * Trade log + automation execution_count/last_executed_at + notification, all or nothing. The count is an atomic
   * increment, so concurrent trades on one automation never lose an execution. The exchange account and the
   * automation must belong to the trade's user.
   */
  async executeTrade(input: ExecuteTradeInput, options: TransactionOptions = {}) {
    checkTrade(input);
    const executedAt = input.executed_at ?? new Date();
    return this.executeTransaction(async (tx) => {
      const account = await tx.userExchangeAccount.findFirst({ where: { id: input.exchange_account_id, user_id: input.user_id }, select: { id: true } });
      if (!account) throw new NotFoundError('exchange_account', 'executeTrade: the exchange account does not exist or belongs to another user', { hint: 'pass an exchange_account_id of this user' });
      const trade = await tx.tradeLog.create({ data: { ...input, metadata: input.metadata ?? {}, executed_at: executedAt } });
      if (input.automation_id) {
        const counted = await new AutomationRepository(tx, this.logger).recordExecution(input.automation_id, input.user_id, executedAt);
        if (!counted) throw new NotFoundError('automation', 'executeTrade: the automation does not exist or belongs to another user', { hint: 'pass an automation_id of this user' });
      }
      const { type, templateId } = tradeNotification(input.type);
      await new NotificationRepository(tx, this.logger).createFor({
        user_id: input.user_id,
        automation_id: input.automation_id ?? null,
        type,
        priority: input.type === 'LIQUIDATION' ? 'URGENT' : 'NORMAL',
        channels: ['PUSH', 'IN_APP'],
        template_id: templateId,
        variables: { symbol: trade.symbol, side: trade.side, size: trade.size.toString(), price: trade.price.toString(), pnl: trade.pnl?.toString() ?? null },
        status: 'PENDING',
      });
      return trade;
    }, { label: 'executeTrade', ...options });
  }

  /** Repositories bound to a transaction, for callers composing their own multi-step writes. */
  repositories(tx: Tx) {
    return {
      tradeLogs: new TradeLogRepository(tx, this.logger, this.schema),
      automations: new AutomationRepository(tx, this.logger),
      notifications: new NotificationRepository(tx, this.logger),
    };
  }
}

function checkTrade(t: ExecuteTradeInput): void {
  if (!(TRADE_TYPES as readonly string[]).includes(t.type)) throw invalid(`executeTrade: unknown trade type '${t.type}'`, `use one of ${TRADE_TYPES.join(', ')}`);
  if (!(TRADE_SIDES as readonly string[]).includes(t.side)) throw invalid(`executeTrade: unknown side '${t.side}'`, 'use BUY or SELL');
  if (!(TRADE_STATUSES as readonly string[]).includes(t.status)) throw invalid(`executeTrade: unknown status '${t.status}'`, `use one of ${TRADE_STATUSES.join(', ')}`);
  if (new Prisma.Decimal(t.size).isNegative()) throw invalid('executeTrade: size must be >= 0', 'pass the absolute quantity; the side gives the direction');
}
