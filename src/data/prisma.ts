// One import point for the generated client, so the rest of src/data does not depend on its path.
export { PrismaClient, Prisma } from '../generated/prisma/client.ts';
export type { User, UserPreferences, UserExchangeAccount, Automation, TradeLog, Notification, MarginGuardConfig } from '../generated/prisma/client.ts';
import type { PrismaClient, Prisma } from '../generated/prisma/client.ts';

/** The client or the `tx` of an interactive transaction: repositories work on either. */
export type Db = PrismaClient | Prisma.TransactionClient;
