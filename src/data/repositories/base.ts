import { describeError, redactingLogger, type DataLogger } from '../logger.ts';
import type { Db } from '../prisma.ts';

/** Query options shared by list methods. `take` is capped so a forgotten limit cannot load a whole table. */
export interface PageOptions {
  limit?: number;
  offset?: number;
}

export const MAX_PAGE = 1000;

export function page(opts: PageOptions = {}): { take: number; skip?: number } {
  const take = Math.min(Math.max(1, Math.trunc(opts.limit ?? 100)), MAX_PAGE);
  return { take, ...(opts.offset ? { skip: Math.max(0, Math.trunc(opts.offset)) } : {}) };
}

/**
 * The CRUD every repository shares, over one Prisma model delegate. Unlike the design document's base class, it
 * logs the operation, the ids and the error code, never the `data` payload (which may hold a password hash).
 */
interface Delegate<T> {
  findUnique(args: { where: { id: string } }): Promise<T | null>;
  create(args: { data: any }): Promise<T>;
  update(args: { where: { id: string }; data: any }): Promise<T>;
  delete(args: { where: { id: string } }): Promise<T>;
}

export abstract class BaseRepository<T, CreateInput, UpdateInput> {
  protected readonly logger: DataLogger;

  protected constructor(
    protected readonly db: Db,
    logger: DataLogger,
    protected readonly modelName: string,
  ) {
    this.logger = redactingLogger(logger);
  }

  /** The Prisma delegate (`db.user`, `db.tradeLog`...), typed loosely: the subclasses' methods carry the types. */
  protected abstract get delegate(): Delegate<T>;

  /** Runs one query; on failure logs op + context (ids only) + error code, and rethrows the original error. */
  protected async run<R>(op: string, context: Record<string, unknown>, fn: () => Promise<R>): Promise<R> {
    try {
      return await fn();
    } catch (err) {
      this.logger.error(`${this.modelName}.${op} failed`, { ...context, error: describeError(err) });
      throw err;
    }
  }

  findById(id: string): Promise<T | null> {
    return this.run('findById', { id }, () => this.delegate.findUnique({ where: { id } }));
  }

  async create(data: CreateInput): Promise<T> {
    const row = await this.run('create', {}, () => this.delegate.create({ data }));
    this.logger.debug(`${this.modelName} created`, { id: (row as { id?: string }).id });
    return row;
  }

  update(id: string, data: UpdateInput): Promise<T> {
    return this.run('update', { id, fields: Object.keys(data as object) }, () => this.delegate.update({ where: { id }, data }));
  }

  async delete(id: string): Promise<void> {
    await this.run('delete', { id }, () => this.delegate.delete({ where: { id } }));
  }
}
