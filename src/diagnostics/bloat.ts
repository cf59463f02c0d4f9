import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';
import type { Finding } from './findings.ts';

/**
 * Table bloat ESTIMATES from pg_stats (the ioguix / check_postgres shape). They are only as good as the
 * statistics: stale stats put them tens of points off, and a role that cannot read pg_stats sees nonsense
 * (PerformanceMonitor#2542). So an estimate is withheld when the table has no (or incomplete) statistics, or
 * more than STALE_FRACTION of it changed since the last ANALYZE. Index bloat is not estimated: btree
 * deduplication (PG13+) makes the classic estimate wrong, even negative (check_pgactivity#264); use pgstatindex.
 */
export const BLOAT_THRESHOLDS = { warningBytes: 100 * 1024 * 1024, criticalBytes: 5 * 1024 ** 3, minRatio: 0.3, minPages: 10 } as const;
export const STALE_FRACTION = 0.2;

export interface BloatInput {
  schema: string;
  table: string;
  relpages: number;
  reltuples: number;
  blockSize: number;
  fillfactor: number;
  columns: number;
  columnsWithStats: number;
  /** Σ (1 - null_frac) × avg_width over the columns. */
  dataWidth: number;
  hasNulls: boolean;
  modsSinceAnalyze: number;
  lastAnalyze: string | null;
}

export interface BloatEstimate {
  table: string;
  bytes: number;
  /** null when withheld. */
  wastedBytes: number | null;
  ratio: number | null;
  withheld: null | 'no_statistics' | 'incomplete_statistics' | 'stale_statistics' | 'too_small';
}

const PAGE_HEADER = 24;
const ITEM_POINTER = 4;
const TUPLE_HEADER = 23;
const MAXALIGN = 8;

const align = (n: number) => Math.ceil(n / MAXALIGN) * MAXALIGN;

export function estimateBloat(t: BloatInput): BloatEstimate {
  const base = { table: qualifiedName(t.schema, t.table), bytes: t.relpages * t.blockSize };
  if (t.relpages < BLOAT_THRESHOLDS.minPages) return { ...base, wastedBytes: null, ratio: null, withheld: 'too_small' };
  if (t.lastAnalyze === null || t.columnsWithStats === 0 || t.reltuples < 0) return { ...base, wastedBytes: null, ratio: null, withheld: 'no_statistics' };
  if (t.columnsWithStats < t.columns) return { ...base, wastedBytes: null, ratio: null, withheld: 'incomplete_statistics' };
  if (t.modsSinceAnalyze > STALE_FRACTION * Math.max(t.reltuples, 1)) return { ...base, wastedBytes: null, ratio: null, withheld: 'stale_statistics' };
  const nullBitmap = t.hasNulls ? Math.ceil(t.columns / 8) : 0;
  const tupleBytes = ITEM_POINTER + align(TUPLE_HEADER + nullBitmap) + align(t.dataWidth);
  const usable = (t.blockSize - PAGE_HEADER) * (t.fillfactor / 100);
  const perPage = Math.max(1, Math.floor(usable / tupleBytes));
  const expectedPages = Math.ceil(t.reltuples / perPage);
  const wastedPages = Math.max(0, t.relpages - expectedPages);
  return { ...base, wastedBytes: wastedPages * t.blockSize, ratio: t.relpages > 0 ? wastedPages / t.relpages : 0, withheld: null };
}

export async function readBloatInputs(client: pg.Client): Promise<BloatInput[]> {
  const { rows } = await client.query(`
    SELECT n.nspname AS schema, c.relname AS table, c.relpages, c.reltuples::float8 AS reltuples,
           current_setting('block_size')::int AS block_size,
           coalesce((SELECT option_value::int FROM pg_options_to_table(c.reloptions) WHERE option_name = 'fillfactor'), 100) AS fillfactor,
           (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::int AS columns,
           count(st.attname)::int AS columns_with_stats,
           coalesce(sum((1 - st.null_frac) * st.avg_width), 0)::float8 AS data_width,
           coalesce(bool_or(st.null_frac > 0), false) AS has_nulls,
           s.n_mod_since_analyze AS mods, greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_stat_user_tables s ON s.relid = c.oid
    LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname AND NOT st.inherited
    WHERE c.relkind IN ('r', 'm')
    GROUP BY n.nspname, c.relname, c.oid, s.n_mod_since_analyze, s.last_analyze, s.last_autoanalyze`);
  return rows.map((r) => ({
    schema: r.schema, table: r.table, relpages: r.relpages, reltuples: r.reltuples, blockSize: r.block_size, fillfactor: r.fillfactor,
    columns: r.columns, columnsWithStats: r.columns_with_stats, dataWidth: r.data_width, hasNulls: r.has_nulls, modsSinceAnalyze: Number(r.mods),
    lastAnalyze: r.last_analyze ? new Date(r.last_analyze).toISOString() : null,
  }));
}

export function bloatFindings(estimates: readonly BloatEstimate[]): Finding[] {
  const out: Finding[] = [];
  for (const e of estimates) {
    if (e.withheld === 'no_statistics' || e.withheld === 'incomplete_statistics' || e.withheld === 'stale_statistics') {
      out.push({ check: 'bloat_withheld', severity: 'info', object: e.table, message: `bloat estimate for ${e.table} withheld (${e.withheld.replace(/_/g, ' ')}): ANALYZE it, or use pgstattuple for exact numbers` });
      continue;
    }
    if (e.wastedBytes === null || e.ratio === null || e.ratio < BLOAT_THRESHOLDS.minRatio || e.wastedBytes < BLOAT_THRESHOLDS.warningBytes) continue;
    out.push({
      check: 'table_bloat', severity: e.wastedBytes >= BLOAT_THRESHOLDS.criticalBytes ? 'critical' : 'warning', object: e.table, value: e.wastedBytes, threshold: BLOAT_THRESHOLDS.warningBytes,
      message: `${e.table}: about ${(e.ratio * 100).toFixed(0)}% (${Math.round(e.wastedBytes / 1024 / 1024)} MB) estimated free space; VACUUM makes it reusable, pg_repack/VACUUM FULL returns it`,
    });
  }
  return out;
}
