import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';
import type { SequenceEntry } from '../archive/manifest.ts';

/**
 * A column type (b: the type, or a domain's base type) whose COPY binary form reads back in another database: an
 * enum (sent as its label), or a type of the server's own (OID below 16384, FirstNormalObjectId) with send and
 * receive functions whose element type, if any, is also the server's own. Not: the reg* types (sent as OIDs, which
 * differ between databases), arrays of a user's type (array_recv checks the element type's OID), composite types
 * (record_recv checks column type OIDs), domains over domains (not resolved here), extension and user base types.
 * Tables with such a column keep COPY text.
 */
const BINARY_PORTABLE = `b.typtype = 'e' OR (b.oid < 16384 AND b.typtype IN ('b', 'r', 'm') AND b.typsend <> 0 AND b.typreceive <> 0
  AND b.typelem < 16384 AND b.typname !~ '^_?reg' AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = b.typelem AND e.typname ~ '^reg'))`;

/** Ordinary tables whose rows a backup carries: user schemas, not temporary, not owned by an extension. */
const TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS name, c.oid::int8 AS oid, pg_relation_size(c.oid)::int8 AS bytes,
       c.relreplident::text AS replident, c.relpersistence::text AS persistence,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS "hasPk",
       (SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}') FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
       NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
          LEFT JOIN pg_type b ON b.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
           AND NOT (${BINARY_PORTABLE})) AS "binaryPortable",
       (SELECT coalesce(array_agg(o::int8), '{}') FROM (
          SELECT indexrelid AS o FROM pg_index WHERE indrelid = c.oid
          UNION ALL SELECT oid FROM pg_constraint WHERE conrelid = c.oid AND contype <> 'f'
          UNION ALL SELECT oid FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal
          UNION ALL SELECT oid FROM pg_attrdef WHERE adrelid = c.oid
          UNION ALL SELECT oid FROM pg_policy WHERE polrelid = c.oid
          UNION ALL SELECT d.objid FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                     WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) x) AS objects,
       (SELECT coalesce(json_agg(json_build_object('oid', f.oid::int8, 'ref', rn.nspname || '.' || r.relname)), '[]') FROM pg_constraint f
          JOIN pg_class r ON r.oid = f.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
         WHERE f.conrelid = c.oid AND f.contype = 'f') AS fkeys,
       (SELECT coalesce(array_agg(s.relname::text), '{}') FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) AS "ownedSequences"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence <> 't'
   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

export interface SourceTable {
  schema: string;
  name: string;
  oid: number;
  bytes: number;
  /** d = default (primary key), n = nothing, f = full, i = index. */
  replident: string;
  /** p = permanent, u = unlogged (not WAL-logged, so logical decoding never sees its changes). */
  persistence: string;
  hasPk: boolean;
  columns: string[];
  /** Every column's type reads back from COPY binary in another database (BINARY_PORTABLE). */
  binaryPortable: boolean;
  /** Source catalog OIDs of the table and everything attached to it (indexes, constraints, triggers...). */
  objects: number[];
  fkeys: Array<{ oid: number; ref: string }>;
  ownedSequences: string[];
}

export async function listTables(c: pg.Client): Promise<SourceTable[]> {
  const { rows } = await c.query<SourceTable>(TABLES_SQL);
  return rows.map((r) => ({ ...r, objects: [r.oid, ...r.objects.map(Number)] }));
}

/** Tables whose UPDATE/DELETE logical decoding cannot identify (wal2json silently drops those changes). */
export function tablesWithoutIdentity(tables: SourceTable[]): string[] {
  return tables.filter((t) => t.replident === 'n' || (t.replident === 'd' && !t.hasPk)).map((t) => `${t.schema}.${t.name}`);
}

export function unloggedTables(tables: SourceTable[]): string[] {
  return tables.filter((t) => t.persistence === 'u').map((t) => `${t.schema}.${t.name}`);
}

export async function readSequences(c: pg.Client): Promise<SequenceEntry[]> {
  const { rows: seqs } = await c.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'S' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY 1, 2`);
  if (seqs.length === 0) return [];
  // Sequences are not transactional: this reads their current values, which are at least the snapshot's.
  const sql = seqs.map((s, i) => `SELECT ${i} AS i, last_value::text AS v, is_called AS c FROM ${qualifiedName(s.schema, s.name)}`).join(' UNION ALL ');
  const { rows } = await c.query<{ i: number; v: string; c: boolean }>(sql);
  return rows.sort((a, b) => a.i - b.i).map((r) => ({ ...seqs[r.i]!, lastValue: r.v, isCalled: r.c }));
}

/**
 * A fingerprint of everything the change replay depends on: tables, columns and types, constraints, indexes,
 * enum labels, replica identities. If it differs from the chain's, the captured changes may not apply.
 */
export async function schemaFingerprint(c: pg.Client): Promise<string> {
  const { rows } = await c.query<{ f: string }>(`
    WITH rel AS (
      SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%')
    SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) AS f FROM (
      -- The OID too: a table dropped and created again with the same shape needs a new chain (its DROP is not decoded).
      SELECT format('rel %I.%I %s %s %s', nspname, relname, relkind, relreplident, oid) AS x FROM rel
      UNION ALL SELECT format('col %I.%I.%I %s %s %s', r.nspname, r.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated)
        FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid WHERE a.attnum > 0 AND NOT a.attisdropped
      UNION ALL SELECT format('con %I.%I %I %s', r.nspname, r.relname, k.conname, pg_get_constraintdef(k.oid)) FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid
      UNION ALL SELECT format('idx %I %s', r.nspname, pg_get_indexdef(i.indexrelid)) FROM rel r JOIN pg_index i ON i.indrelid = r.oid
      UNION ALL SELECT format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel) FROM pg_enum e
    ) s`);
  return rows[0]!.f;
}

export interface ServerInfo {
  version: string;
  versionNum: number;
  major: number;
  walLevel: string;
  encoding: string;
  database: string;
  /** null when the setting does not exist (stock PostgreSQL) or the role may not read it; else the allowed output plugins. */
  outputPluginLibraries: string[] | null;
  canReplicate: boolean;
  /** current_user: named in the GRANTs of privilege errors. */
  role: string;
}

export async function serverInfo(c: pg.Client): Promise<ServerInfo> {
  const { rows } = await c.query(`
    SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num,
           current_setting('wal_level') AS wal, pg_encoding_to_char(d.encoding) AS enc, current_database() AS db,
           -- pg_settings, not current_setting(): this build lets only privileged roles read the setting, and
           -- pg_settings hides it from the others instead of failing (the slot creation then judges the plugin).
           (SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries') AS opl,
           (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS repl, current_user::text AS role
      FROM pg_database d WHERE d.datname = current_database()`);
  const r = rows[0];
  return {
    version: r.version, versionNum: r.num, major: Math.floor(r.num / 10000), walLevel: r.wal, encoding: r.enc, database: r.db,
    outputPluginLibraries: r.opl === null || r.opl === undefined ? null : String(r.opl).split(',').map((s) => s.trim().replace(/^"|"$/g, '')).filter(Boolean),
    canReplicate: Boolean(r.repl), role: r.role,
  };
}
