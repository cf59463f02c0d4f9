import { UsageError } from '../errors.ts';

export type SeedMode = 'refuse' | 'append' | 'truncate';

/** Input of seedDatabase, as a library caller (or the CLI) gives it. */
export interface SeedOptions {
  users?: number;
  tradesPerUser?: number;
  automationsPerUser?: number;
  notificationsPerUser?: number;
  seed?: number;
  /** The "now" of the generated history (all times are before it). Fixed by default so runs are reproducible. */
  asOf?: Date | string;
  /** refuse (default): stop if the Axisor tables hold rows. append: add to them. truncate: empty them first. */
  mode?: SeedMode;
  /** Empty tables are loaded with their indexes and foreign keys dropped and rebuilt afterwards (default true). */
  bulk?: boolean;
}

export interface SeedSettings {
  users: number;
  tradesPerUser: number;
  automationsPerUser: number;
  notificationsPerUser: number;
  seed: number;
  asOf: number;
  mode: SeedMode;
  bulk: boolean;
}

export const DEFAULT_AS_OF = '2025-06-30T00:00:00Z';
export const SEED_DEFAULTS = { users: 100, tradesPerUser: 50, automationsPerUser: 3, notificationsPerUser: 5, seed: 42 } as const;
export const SEED_LIMITS = { users: 10_000_000, tradesPerUser: 100_000, automationsPerUser: 15, notificationsPerUser: 1_000 } as const;

function count(name: string, flag: string, v: number | undefined, def: number, min: number, max: number): number {
  const n = v ?? def;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max} (got ${v})`, { hint: `e.g. ${flag} ${min === 0 ? 0 : Math.min(max, 10)}` });
  return n;
}

export function resolveSeedOptions(o: SeedOptions): SeedSettings {
  const asOf = o.asOf instanceof Date ? o.asOf.getTime() : Date.parse(o.asOf ?? DEFAULT_AS_OF);
  if (!Number.isFinite(asOf)) throw new UsageError(`--as-of is not a date: ${String(o.asOf)}`, { hint: 'use an ISO date such as 2025-06-30T00:00:00Z' });
  if (asOf < Date.parse('2023-06-01T00:00:00Z')) throw new UsageError('--as-of must be 2023-06-01 or later (the price history starts in 2023)', { hint: 'e.g. --as-of 2025-06-30T00:00:00Z' });
  const mode = o.mode ?? 'refuse';
  if (!['refuse', 'append', 'truncate'].includes(mode)) throw new UsageError(`unknown seed mode ${mode}`, { hint: 'use --append or --truncate' });
  return {
    users: count('--users', '--users', o.users, SEED_DEFAULTS.users, 1, SEED_LIMITS.users),
    tradesPerUser: count('--trades-per-user', '--trades-per-user', o.tradesPerUser, SEED_DEFAULTS.tradesPerUser, 0, SEED_LIMITS.tradesPerUser),
    automationsPerUser: count('--automations-per-user', '--automations-per-user', o.automationsPerUser, SEED_DEFAULTS.automationsPerUser, 0, SEED_LIMITS.automationsPerUser),
    notificationsPerUser: count('--notifications-per-user', '--notifications-per-user', o.notificationsPerUser, SEED_DEFAULTS.notificationsPerUser, 1, SEED_LIMITS.notificationsPerUser),
    seed: count('--seed', '--seed', o.seed, SEED_DEFAULTS.seed, 0, 2 ** 31 - 1),
    asOf,
    mode,
    bulk: o.bulk ?? true,
  };
}
