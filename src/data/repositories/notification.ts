import type { DataLogger } from '../logger.ts';
import type { Db, Notification, Prisma } from '../prisma.ts';
import { BaseRepository, page, type PageOptions } from './base.ts';

export class NotificationRepository extends BaseRepository<Notification, Prisma.NotificationCreateInput, Prisma.NotificationUpdateInput> {
  constructor(db: Db, logger: DataLogger) {
    super(db, logger, 'Notification');
  }

  protected get delegate() {
    return this.db.notification as any;
  }

  /** Creates a notification from plain foreign keys (the form services have at hand). */
  createFor(data: Prisma.NotificationUncheckedCreateInput): Promise<Notification> {
    return this.run('createFor', { userId: data.user_id, type: data.type }, () => this.db.notification.create({ data }));
  }

  /** A user's feed, newest first (served by Notification_user_id_created_at_idx). */
  findByUser(userId: string, opts: PageOptions & { status?: string; unreadOnly?: boolean } = {}): Promise<Notification[]> {
    return this.run('findByUser', { userId }, () =>
      this.db.notification.findMany({
        where: { user_id: userId, ...(opts.status ? { status: opts.status } : {}), ...(opts.unreadOnly ? { read_at: null } : {}) },
        orderBy: [{ created_at: 'desc' }, { id: 'desc' }],
        ...page(opts),
      }),
    );
  }

  /** What the dispatcher sends now: PENDING, due (or unscheduled), not expired; oldest first. */
  findDue(now: Date = new Date(), opts: PageOptions = {}): Promise<Notification[]> {
    return this.run('findDue', {}, () =>
      this.db.notification.findMany({
        where: {
          status: 'PENDING',
          OR: [{ scheduled_at: null }, { scheduled_at: { lte: now } }],
          AND: [{ OR: [{ expires_at: null }, { expires_at: { gt: now } }] }],
        },
        orderBy: [{ created_at: 'asc' }, { id: 'asc' }],
        ...page(opts),
      }),
    );
  }

  markAsSent(id: string, at: Date = new Date()): Promise<Notification> {
    return this.run('markAsSent', { id }, () => this.db.notification.update({ where: { id }, data: { status: 'SENT', sent_at: at } }));
  }

  /** Marks read only if the notification is the user's; returns whether it was. */
  async markAsRead(id: string, userId: string, at: Date = new Date()): Promise<boolean> {
    const { count } = await this.run('markAsRead', { id, userId }, () =>
      this.db.notification.updateMany({ where: { id, user_id: userId, read_at: null }, data: { status: 'READ', read_at: at } }),
    );
    return count === 1;
  }

  countUnread(userId: string): Promise<number> {
    return this.run('countUnread', { userId }, () => this.db.notification.count({ where: { user_id: userId, read_at: null } }));
  }
}
