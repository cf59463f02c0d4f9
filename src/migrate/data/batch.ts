import { AbortedError } from '../../errors.ts';
import type { DataMigrationContext, DataMigrationOutcome, Queryable } from './types.ts';

/**
 * Keyset pagination over a table's primary key: each step runs ONE set-based statement that takes the next
 * `batchSize` keys after the last one (`WHERE id > $1 ORDER BY id LIMIT $2`), changes what needs changing
 * among them, and returns a single summary row { last_id, scanned, changed }. So Node never holds more than
 * one row per batch and the server never sorts or materialises the whole table.
 *
 * `firstSql` is the same statement without the `id > $1` bound (keys are text: no sentinel value is safe).
 */
export async function runKeysetBatches(
  client: Queryable,
  ctx: DataMigrationContext,
  phase: string,
  firstSql: string,
  nextSql: string,
): Promise<DataMigrationOutcome> {
  let last: string | null = null;
  const outcome: DataMigrationOutcome = { rowsChanged: 0, rowsScanned: 0, batches: 0 };
  for (;;) {
    if (ctx.signal?.aborted) throw new AbortedError(`${phase}: interrupted; the migration was rolled back`);
    const res: { rows: Array<{ last_id: string | null; scanned: number; changed: number }> } =
      last === null ? await client.query(firstSql, [ctx.batchSize]) : await client.query(nextSql, [last, ctx.batchSize]);
    const row = res.rows[0];
    if (!row || row.scanned === 0 || row.last_id === null) break;
    outcome.batches++;
    outcome.rowsScanned += row.scanned;
    outcome.rowsChanged += row.changed;
    last = row.last_id;
    ctx.onProgress?.({ phase, done: outcome.rowsScanned, unit: 'rows', message: `${outcome.rowsChanged} changed` });
    if (row.scanned < ctx.batchSize) break;
  }
  return outcome;
}
