import type { DataLogger } from '../logger.ts';
import type { Automation, Db, Prisma } from '../prisma.ts';
import { BaseRepository, page, type PageOptions } from './base.ts';

export const AUTOMATION_TYPES = ['MARGIN_GUARD', 'TAKE_PROFIT', 'STOP_LOSS', 'TRAILING_STOP', 'AUTO_ENTRY', 'DCA'] as const;

export class AutomationRepository extends BaseRepository<Automation, Prisma.AutomationCreateInput, Prisma.AutomationUpdateInput> {
  constructor(db: Db, logger: DataLogger) {
    super(db, logger, 'Automation');
  }

  protected get delegate() {
    return this.db.automation as any;
  }

  /** A user's automations, highest priority first (the order they run in). */
  findByUser(userId: string, opts: PageOptions & { activeOnly?: boolean } = {}): Promise<Automation[]> {
    return this.run('findByUser', { userId }, () =>
      this.db.automation.findMany({
        where: { user_id: userId, ...(opts.activeOnly ? { is_active: true } : {}) },
        orderBy: [{ priority: 'desc' }, { created_at: 'asc' }, { id: 'asc' }],
        ...page(opts),
      }),
    );
  }

  findActiveByUser(userId: string): Promise<Automation[]> {
    return this.findByUser(userId, { activeOnly: true });
  }

  async setActive(id: string, isActive: boolean): Promise<Automation> {
    return this.run('setActive', { id, isActive }, () => this.db.automation.update({ where: { id }, data: { is_active: isActive } }));
  }

  /**
   * Counts one execution with a single `UPDATE ... SET execution_count = execution_count + 1` (Prisma's atomic
   * increment): concurrent executions never lose a count, at any isolation level. Restricted to the owner, so a
   * trade cannot bump another user's automation. Returns false when no such automation exists for that user.
   */
  async recordExecution(id: string, userId: string, at: Date): Promise<boolean> {
    const { count } = await this.run('recordExecution', { id, userId }, () =>
      this.db.automation.updateMany({ where: { id, user_id: userId }, data: { execution_count: { increment: 1 }, last_executed_at: at } }),
    );
    return count === 1;
  }
}
