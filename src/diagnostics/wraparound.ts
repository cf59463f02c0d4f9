import type pg from 'pg';
import type { Finding } from './findings.ts';

/** XID space: a database stops accepting writes about 2^31 - 3M transactions after its oldest unfrozen xid. */
export const XID_LIMIT = 2_146_483_648;
export const WRAPAROUND_THRESHOLDS = { warningRemaining: 1_500_000_000, criticalRemaining: 500_000_000 } as const;
export const SEQUENCE_THRESHOLDS = { warning: 0.9, critical: 0.98 } as const;

export interface XidAge {
  database: string;
  age: number;
  remaining: number;
}

export interface TableXidAge {
  table: string;
  age: number;
}

export interface SequenceUsage {
  sequence: string;
  column: string | null;
  columnType: string | null;
  lastValue: number | string | null;
  /** last_value over the smaller of the sequence's max and the column type's max (a serial int4 dies at 2^31-1). */
  usedFraction: number;
}

export async function readXidAges(client: pg.Client): Promise<{ databases: XidAge[]; tables: TableXidAge[]; freezeMaxAge: number }> {
  const dbs = await client.query(`SELECT datname, age(datfrozenxid)::float8 AS age FROM pg_database WHERE datallowconn ORDER BY age(datfrozenxid) DESC`);
  // TOAST tables carry their own relfrozenxid; the older of the two counts.
  const tables = await client.query(`
    SELECT c.oid::regclass::text AS table, greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::float8 AS age
    FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
    WHERE c.relkind IN ('r', 'm') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    ORDER BY 2 DESC LIMIT 10`);
  const freeze = await client.query(`SELECT current_setting('autovacuum_freeze_max_age')::float8 AS v`);
  return {
    databases: dbs.rows.map((r) => ({ database: r.datname, age: r.age, remaining: XID_LIMIT - r.age })),
    tables: tables.rows.map((r) => ({ table: r.table, age: r.age })),
    freezeMaxAge: freeze.rows[0].v,
  };
}

export function wraparoundFindings(dbs: readonly XidAge[], freezeMaxAge: number): Finding[] {
  const out: Finding[] = [];
  for (const d of dbs) {
    const severity = d.remaining < WRAPAROUND_THRESHOLDS.criticalRemaining ? 'critical' : d.remaining < WRAPAROUND_THRESHOLDS.warningRemaining ? 'warning' : d.age > freezeMaxAge ? 'info' : null;
    if (!severity) continue;
    out.push({ check: 'xid_wraparound', severity, object: d.database, value: d.age, threshold: freezeMaxAge, message: `database ${d.database}: xid age ${d.age}, ${d.remaining} transactions left before wraparound protection stops writes` });
  }
  return out;
}

export async function readSequenceUsage(client: pg.Client): Promise<SequenceUsage[]> {
  // The owning column (serial: deptype 'a', identity: 'i') caps the sequence at its type's max.
  const { rows } = await client.query(`
    SELECT format('%I.%I', s.schemaname, s.sequencename) AS sequence, s.last_value,
           CASE WHEN a.attname IS NULL THEN NULL ELSE d.refobjid::regclass::text || '.' || quote_ident(a.attname) END AS column,
           format_type(a.atttypid, NULL) AS column_type,
           (s.last_value::numeric / least(s.max_value::numeric, CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 ELSE 9223372036854775807 END))::float8 AS used
    FROM pg_sequences s
    JOIN pg_namespace sn ON sn.nspname = s.schemaname
    JOIN pg_class sc ON sc.relname = s.sequencename AND sc.relnamespace = sn.oid
    LEFT JOIN pg_depend d ON d.objid = sc.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE s.increment_by > 0 AND s.last_value IS NOT NULL
    ORDER BY used DESC LIMIT 20`);
  return rows.map((r) => ({ sequence: r.sequence, column: r.column, columnType: r.column_type, lastValue: r.last_value, usedFraction: r.used }));
}

export function sequenceFindings(seqs: readonly SequenceUsage[]): Finding[] {
  return seqs.filter((s) => s.usedFraction >= SEQUENCE_THRESHOLDS.warning).map((s) => ({
    check: 'sequence_exhaustion',
    severity: s.usedFraction >= SEQUENCE_THRESHOLDS.critical ? 'critical' as const : 'warning' as const,
    object: s.sequence,
    value: Math.round(s.usedFraction * 1000) / 10,
    threshold: SEQUENCE_THRESHOLDS.warning * 100,
    message: `sequence ${s.sequence}${s.column ? ` (${s.column} ${s.columnType})` : ''} has used ${(s.usedFraction * 100).toFixed(1)}% of its range`,
  }));
}
