import { sqlStateOf } from './logger.ts';

/** SQLSTATEs after which re-running the whole transaction can succeed. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

/**
 * Whether a failed transaction may be retried: SQLSTATE 40001/40P01 however Prisma wrapped it, or Prisma's P2034
 * ("write conflict or deadlock", which adapter-pg produces from exactly those two codes).
 */
export function isRetryableTransactionError(err: unknown): boolean {
  const state = sqlStateOf(err);
  if (state) return RETRYABLE_SQLSTATES.has(state);
  return (err as { code?: unknown })?.code === 'P2034';
}

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * "Full jitter" exponential backoff (AWS architecture blog): uniform in [0, min(max, base·2^attempt)].
 * Jitter spreads the retries of transactions that collided, so they do not collide again in lock-step.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const cap = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * cap);
}
