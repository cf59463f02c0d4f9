import { PrismaPg } from '@prisma/adapter-pg';
import type { AxisorConfig, ConnectionSettings, PoolSettings } from '../config/types.ts';
import { createPool, type PgPool } from '../db/connect.ts';
import { silentLogger, redactingLogger, describeError, type DataLogger } from './logger.ts';
import { PrismaClient } from './prisma.ts';
import { UserRepository } from './repositories/user.ts';
import { TradeLogRepository } from './repositories/trade-log.ts';
import { AutomationRepository } from './repositories/automation.ts';
import { NotificationRepository } from './repositories/notification.ts';
import { TransactionService, type TransactionDefaults } from './transaction-service.ts';

export interface DatabaseManagerOptions {
  logger?: DataLogger;
  applicationName?: string;
  /** Overrides the configured pool sizes (e.g. a test that runs 20 transactions at once). */
  pool?: Partial<PoolSettings>;
  /** Schema of the Axisor tables when given bare ConnectionSettings (an AxisorConfig carries its own). */
  schema?: string;
  transactionDefaults?: Partial<TransactionDefaults>;
}

/**
 * The Prisma client for the application side (repositories, TransactionService). It runs over a pg.Pool made by
 * src/db's createPool, so SSL, timeouts, application_name and the password handling are the foundation's; Prisma
 * never sees a connection URL. One pool per manager; `close()` ends both.
 */
export class DatabaseManager {
  readonly prisma: PrismaClient;
  readonly pool: PgPool;
  readonly schema: string;
  readonly logger: DataLogger;
  readonly users: UserRepository;
  readonly tradeLogs: TradeLogRepository;
  readonly automations: AutomationRepository;
  readonly notifications: NotificationRepository;
  readonly transactions: TransactionService;
  private closed = false;

  private constructor(pool: PgPool, schema: string, logger: DataLogger, defaults?: Partial<TransactionDefaults>) {
    this.pool = pool;
    this.schema = schema;
    this.logger = logger;
    // disposeExternalPool stays false: the pool is ours to end, after Prisma has let go of it.
    this.prisma = new PrismaClient({ adapter: new PrismaPg(pool, { schema }) });
    this.users = new UserRepository(this.prisma, logger);
    this.tradeLogs = new TradeLogRepository(this.prisma, logger, schema);
    this.automations = new AutomationRepository(this.prisma, logger);
    this.notifications = new NotificationRepository(this.prisma, logger);
    this.transactions = new TransactionService(this.prisma, logger, { defaults, schema });
  }

  /** Opens the pool (connection errors surface here, mapped by src/db) and checks the server answers. */
  static async connect(src: AxisorConfig | ConnectionSettings, opts: DatabaseManagerOptions = {}): Promise<DatabaseManager> {
    const logger = redactingLogger(opts.logger ?? silentLogger);
    const schema = 'connection' in src ? src.schema : opts.schema ?? 'public';
    const pool = await createPool(src, { applicationName: opts.applicationName ?? 'axisor-db data', pool: opts.pool });
    const manager = new DatabaseManager(pool, schema, logger, opts.transactionDefaults);
    try {
      await manager.prisma.$queryRaw`SELECT 1`;
    } catch (err) {
      logger.error('database check failed', { error: describeError(err) });
      await manager.close();
      throw err;
    }
    logger.debug('database manager ready', { schema });
    return manager;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.prisma.$disconnect().catch(() => {});
    await this.pool.end().catch(() => {});
  }
}
