import type pg from 'pg';
import type { Finding } from './findings.ts';

/** PgHero's defaults: cache hit below 99% and index usage below 95% on tables of 10 000+ rows are worth a look. */
export const CACHE_THRESHOLDS = { warning: 0.99, critical: 0.95, minBlocks: 1000 } as const;
export const INDEX_USAGE_THRESHOLDS = { minUsagePercent: 95, minRows: 10_000 } as const;

export interface TableStats {
  table: string;
  rows: number;
  totalBytes: number;
  tableBytes: number;
  indexBytes: number;
  seqScans: number;
  indexScans: number;
  /** 100 × idx_scan / (seq_scan + idx_scan); null before any scan. */
  indexUsagePercent: number | null;
}

export interface CacheHit {
  kind: 'table' | 'index';
  ratio: number | null;
  hits: number;
  reads: number;
}

export async function readTableStats(client: pg.Client, limit: number): Promise<TableStats[]> {
  const { rows } = await client.query(`
    SELECT format('%I.%I', s.schemaname, s.relname) AS table, s.n_live_tup AS rows,
           pg_total_relation_size(s.relid) AS total, pg_table_size(s.relid) AS heap, pg_indexes_size(s.relid) AS idx,
           coalesce(s.seq_scan, 0) AS seq, coalesce(s.idx_scan, 0) AS iscan
    FROM pg_stat_user_tables s
    ORDER BY pg_total_relation_size(s.relid) DESC, s.schemaname, s.relname
    LIMIT $1`, [limit]);
  return rows.map((r) => {
    const seq = Number(r.seq);
    const idx = Number(r.iscan);
    return {
      table: r.table, rows: Number(r.rows), totalBytes: Number(r.total), tableBytes: Number(r.heap), indexBytes: Number(r.idx), seqScans: seq, indexScans: idx,
      indexUsagePercent: seq + idx === 0 ? null : Math.round((1000 * idx) / (seq + idx)) / 10,
    };
  });
}

export async function readCacheHit(client: pg.Client): Promise<CacheHit[]> {
  const { rows } = await client.query(`
    SELECT 'table' AS kind, coalesce(sum(heap_blks_hit), 0)::float8 AS hits, coalesce(sum(heap_blks_read), 0)::float8 AS reads FROM pg_statio_user_tables
    UNION ALL
    SELECT 'index', coalesce(sum(idx_blks_hit), 0)::float8, coalesce(sum(idx_blks_read), 0)::float8 FROM pg_statio_user_indexes`);
  return rows.map((r) => ({ kind: r.kind, hits: r.hits, reads: r.reads, ratio: r.hits + r.reads === 0 ? null : r.hits / (r.hits + r.reads) }));
}

export function cacheFindings(cache: readonly CacheHit[]): Finding[] {
  return cache.filter((c) => c.ratio !== null && c.hits + c.reads >= CACHE_THRESHOLDS.minBlocks && c.ratio < CACHE_THRESHOLDS.warning).map((c) => ({
    check: `${c.kind}_cache_hit`,
    severity: c.ratio! < CACHE_THRESHOLDS.critical ? 'critical' as const : 'warning' as const,
    value: Math.round(c.ratio! * 10000) / 100,
    threshold: CACHE_THRESHOLDS.warning * 100,
    message: `${c.kind} cache hit ratio is ${(c.ratio! * 100).toFixed(2)}% (below ${CACHE_THRESHOLDS.warning * 100}%): the working set does not fit shared_buffers, or scans read cold data`,
  }));
}

export function indexUsageFindings(tables: readonly TableStats[]): Finding[] {
  return tables.filter((t) => t.indexUsagePercent !== null && t.indexScans > 0 && t.rows >= INDEX_USAGE_THRESHOLDS.minRows && t.indexUsagePercent < INDEX_USAGE_THRESHOLDS.minUsagePercent).map((t) => ({
    check: 'low_index_usage',
    severity: 'warning' as const,
    object: t.table,
    value: t.indexUsagePercent,
    threshold: INDEX_USAGE_THRESHOLDS.minUsagePercent,
    message: `${t.table} (${t.rows} rows) is read by index only ${t.indexUsagePercent}% of the time: run \`axisor-db optimize\` for planner-proven index advice`,
  }));
}
