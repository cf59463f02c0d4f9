import type { DataLogger } from '../logger.ts';
import type { Db, Prisma, User } from '../prisma.ts';
import { BaseRepository, page, type PageOptions } from './base.ts';

export const PLAN_TYPES = ['FREE', 'BASIC', 'ADVANCED', 'PRO', 'LIFETIME'] as const;
export type PlanType = (typeof PLAN_TYPES)[number];

/** Emails are stored lower-cased (the unique index is on the plain column; see docs/data-model.md). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Columns no read path needs: callers that need them select them explicitly. */
export const USER_SECRET_OMIT = { password_hash: true, two_factor_secret: true } as const;

export type SafeUser = Omit<User, 'password_hash' | 'two_factor_secret'>;

export class UserRepository extends BaseRepository<User, Prisma.UserCreateInput, Prisma.UserUpdateInput> {
  constructor(db: Db, logger: DataLogger) {
    super(db, logger, 'User');
  }

  protected get delegate() {
    return this.db.user as any;
  }

  override create(data: Prisma.UserCreateInput): Promise<User> {
    return super.create({ ...data, email: normalizeEmail(data.email) });
  }

  /** The user with preferences and (id, exchange_name, is_active) of their exchange accounts; secrets omitted. */
  findByEmail(email: string) {
    return this.run('findByEmail', {}, () =>
      this.db.user.findUnique({
        where: { email: normalizeEmail(email) },
        omit: USER_SECRET_OMIT,
        include: {
          preferences: true,
          exchange_accounts: { select: { id: true, exchange_name: true, is_active: true } },
        },
      }),
    );
  }

  /** Active users, oldest first, one page at a time (the document loads them all). */
  findActiveUsers(opts: PageOptions = {}) {
    return this.run('findActiveUsers', {}, () =>
      this.db.user.findMany({
        where: { is_active: true },
        omit: USER_SECRET_OMIT,
        include: { preferences: true },
        orderBy: [{ created_at: 'asc' }, { id: 'asc' }],
        ...page(opts),
      }),
    );
  }

  async updateLastLogin(userId: string, at: Date = new Date()): Promise<void> {
    await this.run('updateLastLogin', { userId }, () =>
      this.db.user.update({ where: { id: userId }, data: { last_login_at: at, failed_login_attempts: 0, locked_until: null } }),
    );
  }
}
