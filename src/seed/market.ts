/**
 * A realistic BTC/USD price path: month-start closes (rounded, public market data) joined linearly, with a
 * deterministic intra-month wiggle. Good enough for plausible trade prices and PnL; not market data.
 */
const MONTHLY: ReadonlyArray<readonly [string, number]> = [
  ['2023-01-01', 16500], ['2023-02-01', 23100], ['2023-03-01', 23600], ['2023-04-01', 28500], ['2023-05-01', 28000],
  ['2023-06-01', 27000], ['2023-07-01', 30500], ['2023-08-01', 29200], ['2023-09-01', 25900], ['2023-10-01', 27000],
  ['2023-11-01', 34600], ['2023-12-01', 37700], ['2024-01-01', 42300], ['2024-02-01', 43100], ['2024-03-01', 62400],
  ['2024-04-01', 69700], ['2024-05-01', 60600], ['2024-06-01', 67500], ['2024-07-01', 62700], ['2024-08-01', 64600],
  ['2024-09-01', 58900], ['2024-10-01', 63300], ['2024-11-01', 70200], ['2024-12-01', 96400], ['2025-01-01', 93400],
  ['2025-02-01', 102400], ['2025-03-01', 84400], ['2025-04-01', 82500], ['2025-05-01', 94200], ['2025-06-01', 104600],
  ['2025-07-01', 107100],
];
const T = MONTHLY.map(([d]) => Date.parse(`${d}T00:00:00Z`));
const P = MONTHLY.map(([, p]) => p);
const DAY = 86_400_000;

/** BTC price in USD at epoch-ms `t` (clamped to the table's range). */
export function btcPrice(t: number): number {
  let base: number;
  if (t <= T[0]!) base = P[0]!;
  else if (t >= T[T.length - 1]!) base = P[P.length - 1]!;
  else {
    // Binary search for the month: T[i] <= t < T[i + 1].
    let lo = 0;
    let hi = T.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (T[mid]! <= t) lo = mid;
      else hi = mid;
    }
    const i = lo;
    const f = (t - T[i]!) / (T[i + 1]! - T[i]!);
    base = P[i]! + f * (P[i + 1]! - P[i]!);
  }
  const d = t / DAY;
  // Two incommensurate waves: ±3% over days, ±1% within a day.
  return base * (1 + 0.03 * Math.sin(d / 3.7) + 0.01 * Math.sin(d * 5.3));
}

