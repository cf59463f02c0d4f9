import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';
import type { Finding } from './findings.ts';

/** One index as the catalog describes it, with the facts the checks need. */
export interface IndexInfo {
  schema: string;
  table: string;
  name: string;
  method: string;
  unique: boolean;
  primary: boolean;
  /** Backs a PRIMARY KEY / UNIQUE / EXCLUDE constraint: never reported as unused or redundant. */
  constraint: boolean;
  valid: boolean;
  /** Key columns (not INCLUDE columns); null for an expression position. */
  columns: Array<string | null>;
  attnums: number[];
  /** opclass oids and indoption flags of the key columns: an index on (a DESC) is not (a). */
  opclasses: string[];
  options: string[];
  expressions: string | null;
  predicate: string | null;
  definition: string;
  bytes: number;
  scans: number | null;
  /** A CREATE INDEX is building it right now (pg_stat_progress_create_index, PG12+). */
  building: boolean;
}

export interface ForeignKeyInfo {
  schema: string;
  table: string;
  name: string;
  columns: string[];
  attnums: number[];
  referencedTable: string;
  tableRows: number;
}

const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp'`;

export async function readIndexes(client: pg.Client): Promise<IndexInfo[]> {
  const { rows } = await client.query(`
    SELECT n.nspname AS schema, t.relname AS table, c.relname AS name, am.amname AS method,
           i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid, i.indnkeyatts AS nkey,
           i.indkey::text AS attnums, i.indclass::text AS opclasses, i.indoption::text AS options,
           pg_get_expr(i.indexprs, i.indrelid) AS expressions, pg_get_expr(i.indpred, i.indrelid) AS predicate,
           pg_get_indexdef(i.indexrelid) AS definition, pg_relation_size(i.indexrelid) AS bytes, s.idx_scan AS scans,
           EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')) AS constraint,
           EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS building,
           ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                 LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_am am ON am.oid = c.relam
    LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
    WHERE ${SYSTEM_SCHEMAS}
    ORDER BY n.nspname, t.relname, c.relname`);
  return rows.map((r) => {
    const nkey = r.nkey as number;
    return {
      schema: r.schema, table: r.table, name: r.name, method: r.method, unique: r.unique, primary: r.primary, constraint: r.constraint,
      valid: r.valid, columns: (r.columns as Array<string | null>).slice(0, nkey), attnums: splitVector(r.attnums).map(Number).slice(0, nkey),
      opclasses: splitVector(r.opclasses).slice(0, nkey), options: splitVector(r.options).slice(0, nkey), expressions: r.expressions,
      predicate: r.predicate, definition: r.definition, bytes: Number(r.bytes), scans: r.scans === null ? null : Number(r.scans), building: r.building,
    };
  });
}

export async function readForeignKeys(client: pg.Client): Promise<ForeignKeyInfo[]> {
  const { rows } = await client.query(`
    SELECT n.nspname AS schema, t.relname AS table, con.conname AS name, array_to_string(con.conkey, ' ') AS attnums,
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
           con.confrelid::regclass::text AS referenced, greatest(t.reltuples, 0)::float8 AS rows
    FROM pg_constraint con
    JOIN pg_class t ON t.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE con.contype = 'f' AND ${SYSTEM_SCHEMAS}
    ORDER BY n.nspname, t.relname, con.conname`);
  return rows.map((r) => ({ schema: r.schema, table: r.table, name: r.name, columns: r.columns, attnums: splitVector(r.attnums).map(Number), referencedTable: r.referenced, tableRows: r.rows }));
}

function splitVector(text: string | null): string[] {
  return text ? text.trim().split(/\s+/).filter(Boolean) : [];
}

function sameShape(a: IndexInfo, b: IndexInfo): boolean {
  return a.schema === b.schema && a.table === b.table && a.method === b.method && a.expressions === b.expressions && a.predicate === b.predicate;
}

function isKeyPrefix(a: IndexInfo, b: IndexInfo): boolean {
  if (a.attnums.length > b.attnums.length) return false;
  return a.attnums.every((k, i) => k === b.attnums[i] && a.opclasses[i] === b.opclasses[i] && a.options[i] === b.options[i]);
}

export interface RedundantIndex {
  index: IndexInfo;
  coveredBy: IndexInfo;
  kind: 'duplicate' | 'covered';
}

/**
 * PgHero's rule: A is redundant when another valid index B on the same table, with the same method,
 * expressions and predicate, has A's key columns (and opclasses/directions) as its prefix. Indexes backing a
 * constraint are never reported (dropping them changes semantics). Of two exact duplicates, the later name is reported.
 */
export function findRedundantIndexes(indexes: readonly IndexInfo[]): RedundantIndex[] {
  const out: RedundantIndex[] = [];
  for (const a of indexes) {
    if (a.unique || a.primary || a.constraint || !a.valid) continue;
    const others = indexes.filter((b) => a !== b && b.valid && sameShape(a, b) && isKeyPrefix(a, b));
    // An exact duplicate is the more useful thing to say than "covered by a wider index", so it is looked for first.
    const exact = others.find((b) => b.attnums.length === a.attnums.length && (b.unique || b.constraint || b.name < a.name));
    if (exact) {
      out.push({ index: a, coveredBy: exact, kind: 'duplicate' });
      continue;
    }
    const wider = others.find((b) => b.attnums.length > a.attnums.length);
    if (wider) out.push({ index: a, coveredBy: wider, kind: 'covered' });
  }
  return out;
}

export function findUnusedIndexes(indexes: readonly IndexInfo[]): IndexInfo[] {
  return indexes.filter((i) => i.valid && !i.unique && !i.primary && !i.constraint && i.scans === 0);
}

export function findInvalidIndexes(indexes: readonly IndexInfo[]): IndexInfo[] {
  return indexes.filter((i) => !i.valid && !i.building);
}

/** An FK is supported when some valid, non-partial index has exactly the FK's columns (any order) as its leftmost keys. */
export function findForeignKeysWithoutIndex(fks: readonly ForeignKeyInfo[], indexes: readonly IndexInfo[]): ForeignKeyInfo[] {
  return fks.filter((fk) => !indexes.some((i) => i.schema === fk.schema && i.table === fk.table && i.valid && i.predicate === null
    && i.attnums.length >= fk.attnums.length && fk.attnums.every((k) => i.attnums.slice(0, fk.attnums.length).includes(k))));
}

export interface IndexReport {
  statsReset: string | null;
  unused: Array<{ index: string; table: string; bytes: number; definition: string }>;
  redundant: Array<{ index: string; table: string; kind: 'duplicate' | 'covered'; coveredBy: string; bytes: number; definition: string }>;
  invalid: Array<{ index: string; table: string; definition: string }>;
  foreignKeysWithoutIndex: Array<{ constraint: string; table: string; columns: string[]; references: string }>;
}

export async function inspectIndexes(client: pg.Client, statsReset: string | null): Promise<{ report: IndexReport; findings: Finding[]; indexes: IndexInfo[] }> {
  const indexes = await readIndexes(client);
  const fks = await readForeignKeys(client);
  const q = (i: { schema: string; table: string }) => qualifiedName(i.schema, i.table);
  const idx = (i: IndexInfo) => qualifiedName(i.schema, i.name);
  const since = statsReset ? `since the statistics reset at ${statsReset}` : 'since statistics were never reset';
  const report: IndexReport = {
    statsReset,
    unused: findUnusedIndexes(indexes).map((i) => ({ index: idx(i), table: q(i), bytes: i.bytes, definition: i.definition })),
    redundant: findRedundantIndexes(indexes).map((r) => ({ index: idx(r.index), table: q(r.index), kind: r.kind, coveredBy: idx(r.coveredBy), bytes: r.index.bytes, definition: r.index.definition })),
    invalid: findInvalidIndexes(indexes).map((i) => ({ index: idx(i), table: q(i), definition: i.definition })),
    foreignKeysWithoutIndex: findForeignKeysWithoutIndex(fks, indexes).map((f) => ({ constraint: f.name, table: q(f), columns: f.columns, references: f.referencedTable })),
  };
  const findings: Finding[] = [
    ...report.unused.map((u) => ({ check: 'unused_index', severity: 'warning' as const, object: u.index, value: u.bytes, message: `${u.index} on ${u.table} has not been scanned ${since} (counters are per server: check replicas before dropping)` })),
    ...report.redundant.map((r) => ({ check: `${r.kind}_index`, severity: 'warning' as const, object: r.index, value: r.bytes, message: r.kind === 'duplicate' ? `${r.index} duplicates ${r.coveredBy}` : `${r.index} is covered by ${r.coveredBy} (its columns are a prefix)` })),
    ...report.invalid.map((i) => ({ check: 'invalid_index', severity: 'warning' as const, object: i.index, message: `${i.index} is INVALID (a failed CREATE INDEX CONCURRENTLY?): it is maintained on writes but never used; drop it with DROP INDEX CONCURRENTLY` })),
    ...report.foreignKeysWithoutIndex.map((f) => ({ check: 'fk_without_index', severity: 'warning' as const, object: `${f.table}.${f.constraint}`, message: `foreign key ${f.constraint} on ${f.table} (${f.columns.join(', ')}) has no index with those leading columns: deletes/updates of ${f.references} scan ${f.table}` })),
  ];
  return { report, findings, indexes };
}
