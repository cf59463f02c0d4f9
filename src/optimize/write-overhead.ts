import type pg from 'pg';
import type { IndexSuggestion, WriteOverhead } from './suggestions.ts';

/**
 * What a new index costs writers: every insert, every non-HOT update and (for vacuum) every delete also
 * maintains it. The rates are averages since the statistics reset (or server start), not peaks.
 */
export async function readWriteOverhead(client: pg.Client, suggestions: readonly IndexSuggestion[]): Promise<Map<string, WriteOverhead>> {
  const out = new Map<string, WriteOverhead>();
  if (suggestions.length === 0) return out;
  const { rows } = await client.query(`
    SELECT s.schemaname AS schema, s.relname AS table, (s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::float8 AS writes,
           s.n_tup_upd::float8 AS upd, s.n_tup_hot_upd::float8 AS hot,
           greatest(extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time())), 1)::float8 AS secs,
           (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid)::int AS indexes
    FROM pg_stat_user_tables s CROSS JOIN (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) d
    WHERE (s.schemaname, s.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
  [suggestions.map((s) => s.schema), suggestions.map((s) => s.table)]);
  for (const r of rows) {
    const rate = r.writes / r.secs;
    out.set(`${r.schema}\u0000${r.table}`, {
      writesPerSecond: Math.round(rate * 100) / 100,
      hotUpdateShare: r.upd > 0 ? Math.round((r.hot / r.upd) * 100) / 100 : null,
      existingIndexes: r.indexes,
      note: `${r.indexes} index(es) today; each write would maintain ${r.indexes + 1} (about ${rate.toFixed(2)} writes/s on average)`,
    });
  }
  return out;
}
