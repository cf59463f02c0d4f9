import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';
import type { Finding } from './findings.ts';

/** Per-table maintenance facts from pg_stat_user_tables, pg_class and the table's reloptions. */
export interface TableMaintenance {
  schema: string;
  table: string;
  /** -1 (PG14+) or 0 when never vacuumed/analysed: treated as 0 rows, as autovacuum does. */
  reltuples: number;
  liveTuples: number;
  deadTuples: number;
  modsSinceAnalyze: number;
  lastVacuum: string | null;
  lastAnalyze: string | null;
  reloptions: Record<string, string>;
}

export interface AutovacuumSettings {
  vacuumThreshold: number;
  vacuumScaleFactor: number;
  analyzeThreshold: number;
  analyzeScaleFactor: number;
  autovacuum: boolean;
}

export async function readAutovacuumSettings(client: pg.Client): Promise<AutovacuumSettings> {
  const { rows } = await client.query(`
    SELECT current_setting('autovacuum_vacuum_threshold')::float8 AS vt, current_setting('autovacuum_vacuum_scale_factor')::float8 AS vs,
           current_setting('autovacuum_analyze_threshold')::float8 AS at, current_setting('autovacuum_analyze_scale_factor')::float8 AS as,
           current_setting('autovacuum')::bool AS on`);
  const r = rows[0];
  return { vacuumThreshold: r.vt, vacuumScaleFactor: r.vs, analyzeThreshold: r.at, analyzeScaleFactor: r.as, autovacuum: r.on };
}

export async function readTableMaintenance(client: pg.Client): Promise<TableMaintenance[]> {
  const { rows } = await client.query(`
    SELECT s.schemaname AS schema, s.relname AS table, c.reltuples::float8 AS reltuples, s.n_live_tup AS live, s.n_dead_tup AS dead,
           s.n_mod_since_analyze AS mods, greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
           greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze, coalesce(c.reloptions, '{}') AS reloptions
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    ORDER BY s.schemaname, s.relname`);
  return rows.map((r) => ({
    schema: r.schema, table: r.table, reltuples: r.reltuples, liveTuples: Number(r.live), deadTuples: Number(r.dead), modsSinceAnalyze: Number(r.mods),
    lastVacuum: r.last_vacuum ? new Date(r.last_vacuum).toISOString() : null, lastAnalyze: r.last_analyze ? new Date(r.last_analyze).toISOString() : null,
    reloptions: parseReloptions(r.reloptions),
  }));
}

export function parseReloptions(options: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of options) {
    const eq = o.indexOf('=');
    if (eq > 0) out[o.slice(0, eq)] = o.slice(eq + 1);
  }
  return out;
}

function num(v: string | undefined, fallback: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : fallback;
}

export interface VacuumDue {
  table: string;
  deadTuples: number;
  threshold: number;
  autovacuumEnabled: boolean;
  lastVacuum: string | null;
}

/**
 * autovacuum's own trigger: n_dead_tup > autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × reltuples,
 * with the table's reloptions overriding the server settings (pg-extras vacuum-stats).
 */
export function vacuumDue(t: TableMaintenance, s: AutovacuumSettings): VacuumDue | null {
  const threshold = num(t.reloptions.autovacuum_vacuum_threshold, s.vacuumThreshold) + num(t.reloptions.autovacuum_vacuum_scale_factor, s.vacuumScaleFactor) * Math.max(t.reltuples, 0);
  if (t.deadTuples <= threshold) return null;
  const enabled = s.autovacuum && t.reloptions.autovacuum_enabled !== 'false' && t.reloptions.autovacuum_enabled !== 'off';
  return { table: qualifiedName(t.schema, t.table), deadTuples: t.deadTuples, threshold: Math.round(threshold), autovacuumEnabled: enabled, lastVacuum: t.lastVacuum };
}

export interface StaleStatistics {
  table: string;
  schema: string;
  name: string;
  reason: 'never_analyzed' | 'modified_since_analyze';
  modsSinceAnalyze: number;
  threshold: number;
  lastAnalyze: string | null;
}

/**
 * Statistics the planner should not be trusted with: a table with rows that was never analysed, or one whose
 * changes since the last ANALYZE passed autoanalyze's own threshold (honouring reloptions) without it running yet.
 */
export function staleStatistics(t: TableMaintenance, s: AutovacuumSettings): StaleStatistics | null {
  const threshold = num(t.reloptions.autovacuum_analyze_threshold, s.analyzeThreshold) + num(t.reloptions.autovacuum_analyze_scale_factor, s.analyzeScaleFactor) * Math.max(t.reltuples, 0);
  const base = { table: qualifiedName(t.schema, t.table), schema: t.schema, name: t.table, modsSinceAnalyze: t.modsSinceAnalyze, threshold: Math.round(threshold), lastAnalyze: t.lastAnalyze };
  if (t.lastAnalyze === null && (t.liveTuples > 0 || t.modsSinceAnalyze > 0)) return { ...base, reason: 'never_analyzed' };
  if (t.lastAnalyze !== null && t.modsSinceAnalyze > threshold) return { ...base, reason: 'modified_since_analyze' };
  return null;
}

export function vacuumFindings(due: readonly VacuumDue[]): Finding[] {
  return due.map((d) => ({
    check: 'vacuum_due',
    // Being due for a moment is normal (autovacuum wakes every autovacuum_naptime); twice the threshold, or
    // autovacuum disabled for the table, means it is falling behind.
    severity: !d.autovacuumEnabled || d.deadTuples > 2 * d.threshold ? 'warning' : 'info',
    object: d.table,
    value: d.deadTuples,
    threshold: d.threshold,
    message: `${d.table} has ${d.deadTuples} dead tuples (autovacuum threshold ${d.threshold})${d.autovacuumEnabled ? '' : '; autovacuum is disabled for it'}`,
  }));
}
