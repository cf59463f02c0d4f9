import { badValue } from '../errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `500ms`, `30s`, `5m`, `1h`; a bare number means seconds (or `bareNumberMeans`).
 * Returns milliseconds. `what` names the flag or variable for the error message.
 */
export function parseDuration(value: string | number, what: string, bareNumberMeans: 'seconds' | 'milliseconds' = 'seconds'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value * (bareNumberMeans === 'seconds' ? 1000 : 1));
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/i.exec(value);
    if (m) return Math.round(Number(m[1]) * UNITS[(m[2] ?? (bareNumberMeans === 'seconds' ? 's' : 'ms')).toLowerCase()]!);
  }
  throw badValue(what, 'duration', `${what} '${value}' is not a duration`, {
    hint: `give ${what} as e.g. 500ms, 30s, 5m or 1h (a bare number means ${bareNumberMeans})`,
  });
}

export function parsePositiveInt(value: string | number, what: string, { min = 1, max = Number.MAX_SAFE_INTEGER, example = Math.min(max, Math.max(min, 4)) } = {}): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw badValue(what, 'integer', `${what} '${value}' must be a whole number ${range}`, {
      hint: what.startsWith('--') ? `e.g. ${what} ${example}` : `set ${what} to a whole number ${range}`,
    });
  }
  return n;
}
