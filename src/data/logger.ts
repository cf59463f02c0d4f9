import { redact } from '../config/secrets.ts';

/** What services log through. Injected, so the CLI, tests and an application can each route it. */
export interface DataLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: DataLogger = { debug() {}, info() {}, warn() {}, error() {} };

// Field names whose values never reach a log: credentials, hashes, ciphertexts, tokens. The design document logs
// whole `data` objects (password_hash included); we log ids and error codes, and scrub anything else that slips in.
const SENSITIVE_KEY = /pass(word)?|secret|token|hash|encrypted|api_?key|authorization|cookie|credential|payment_request/i;
export const REDACTED = '[REDACTED]';

/** A deep copy of `value` that is safe to log: sensitive keys masked, secrets and URL passwords scrubbed, errors reduced. */
export function redactFields(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return describeError(value);
  if (depth >= 4) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => redactFields(v, depth + 1));
  if (typeof value === 'object') {
    // Prisma.Decimal and similar value objects print as their string form.
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null && typeof (value as { toString?: unknown }).toString === 'function' && (value as object).constructor?.name === 'Decimal') {
      return String(value);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SENSITIVE_KEY.test(k) ? REDACTED : redactFields(v, depth + 1);
    }
    return out;
  }
  return String(value);
}

/** name, message, Prisma code and SQLSTATE of an error: never its `meta`/`data` payload. */
export function describeError(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; message?: string; code?: unknown };
  const sqlState = sqlStateOf(err);
  return {
    name: e?.name ?? 'Error',
    message: redact(String(e?.message ?? err)).split('\n').filter(Boolean).slice(-1)[0] ?? '',
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(sqlState ? { sqlState } : {}),
  };
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
// Prisma's own codes (P1xxx-P6xxx) look like SQLSTATEs; PostgreSQL's P class is only P0xxx (P0001 = RAISE EXCEPTION).
const PRISMA_CODE = /^P[1-9]\d{3}$/;

/**
 * The PostgreSQL SQLSTATE behind an error, wherever the layers put it. Prisma 7 with @prisma/adapter-pg wraps a
 * pg error into a DriverAdapterError whose `cause` is `{ kind, originalCode, code? }`; the client then raises a
 * PrismaClientKnownRequestError (P2034 for 40001/40P01, P2002/P2003... or P2039/P2010) with that DriverAdapterError
 * in `meta.driverAdapterError`. A COMMIT failure can surface as the bare DriverAdapterError. A plain pg error has `code`.
 */
export function sqlStateOf(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const e = err as Record<string, any>;
  const candidates = [e.originalCode, e.sqlState, typeof e.code === 'string' && SQLSTATE.test(e.code) && !PRISMA_CODE.test(e.code) ? e.code : undefined];
  for (const c of candidates) if (typeof c === 'string' && SQLSTATE.test(c)) return c;
  return sqlStateOf(e.meta?.driverAdapterError, depth + 1) ?? sqlStateOf(e.cause, depth + 1);
}

const REDACTING = Symbol('redacting');

/** Wraps a sink so every field passes through `redactFields` first (once: wrapping a wrapped logger returns it). */
export function redactingLogger(sink: DataLogger): DataLogger {
  if ((sink as { [REDACTING]?: boolean })[REDACTING]) return sink;
  const wrap = (level: keyof DataLogger) => (message: string, fields?: Record<string, unknown>) =>
    sink[level](redact(message), fields === undefined ? undefined : (redactFields(fields) as Record<string, unknown>));
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error'), [REDACTING]: true } as DataLogger;
}
