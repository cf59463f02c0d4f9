import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import { withClient } from '../db/index.ts';
import { qualifiedName } from '../db/ident.ts';
import type { IndexSuggestion } from './suggestions.ts';

export interface ApplyReport {
  index: string;
  status: 'created' | 'exists' | 'in_progress' | 'failed';
  /** An INVALID index of the same name (a failed concurrent build) was dropped first. */
  droppedInvalid: boolean;
  error?: string;
  sqlState?: string;
  ms: number;
}

interface Existing {
  valid: boolean;
  building: boolean;
}

async function findIndex(client: pg.Client, schema: string, name: string): Promise<Existing | null> {
  const { rows } = await client.query(`
    SELECT i.indisvalid AS valid, EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid) AS building
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_index i ON i.indexrelid = c.oid
    WHERE n.nspname = $1 AND c.relname = $2`, [schema, name]);
  return rows[0] ?? null;
}

/**
 * Creates one suggested index the safe way: CREATE INDEX CONCURRENTLY IF NOT EXISTS (no write lock on the table),
 * quoted identifiers, a lock_timeout so it never queues behind (and in front of) a long transaction, and no
 * statement_timeout (a build on a big table legitimately takes long). A failed concurrent build leaves an
 * INVALID index behind that IF NOT EXISTS would then silently accept; such a leftover is dropped (also
 * CONCURRENTLY) before building, and after a failure of this build.
 */
export async function applySuggestion(client: pg.Client, s: IndexSuggestion): Promise<ApplyReport> {
  const started = Date.now();
  const index = qualifiedName(s.schema, s.name);
  const drop = `DROP INDEX CONCURRENTLY IF EXISTS ${index}`;
  let droppedInvalid = false;
  const before = await findIndex(client, s.schema, s.name);
  if (before?.building) return { index, status: 'in_progress', droppedInvalid, ms: Date.now() - started };
  if (before && before.valid) return { index, status: 'exists', droppedInvalid, ms: Date.now() - started };
  if (before && !before.valid) {
    await client.query(drop);
    droppedInvalid = true;
  }
  try {
    await client.query(s.sql);
  } catch (err) {
    const e = err as Error & { code?: string };
    const left = await findIndex(client, s.schema, s.name).catch(() => null);
    if (left && !left.valid) await client.query(drop).catch(() => {});
    const owner = e.code === '42501'
      ? (await client.query(`SELECT c.relowner::regrole::text AS owner FROM pg_class c WHERE c.oid = to_regclass($1)`, [qualifiedName(s.schema, s.table)]).catch(() => ({ rows: [] as Array<{ owner: string }> }))).rows[0]?.owner
      : undefined;
    const error = e.code === '42501'
      ? `${e.message}: CREATE INDEX needs the table's owner; run --apply as ${owner ? `role ${owner}` : 'the owner'} (README, section Roles: migrator), or apply the --write-migration file through migrate`
      : e.message;
    return { index, status: 'failed', droppedInvalid, error, sqlState: e.code, ms: Date.now() - started };
  }
  const after = await findIndex(client, s.schema, s.name);
  if (!after?.valid) return { index, status: 'failed', droppedInvalid, error: 'the index is not valid after the build', ms: Date.now() - started };
  return { index, status: 'created', droppedInvalid, ms: Date.now() - started };
}

/** A dedicated session for DDL: no statement timeout, the configured lock timeout, outside any transaction. */
export async function withApplyClient<T>(config: AxisorConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(config, fn, { statementTimeoutMs: 0, lockTimeoutMs: config.lockTimeoutMs || 10_000, applicationName: 'axisor-db optimize --apply' });
}

/**
 * ANALYZE of one table whose statistics are stale. It takes a SHARE UPDATE EXCLUSIVE lock (it waits for, and
 * blocks, other VACUUM/ANALYZE/DDL on the table) so it gets the lock timeout; it may run long on a big table.
 * A role that may not analyze the table gets only a WARNING ("skipping ... only table or database owner can
 * analyze it", PG15) and no error, so permission is checked first (owner or database owner; MAINTAIN on PG17+)
 * and a skipping notice is still caught: "analyzed" is only ever reported for a table that was.
 */
export async function analyzeTable(client: pg.Client, schema: string, table: string): Promise<{ table: string; ok: boolean; error?: string; denied?: boolean }> {
  const target = qualifiedName(schema, table);
  const may = await client.query(`
    SELECT pg_has_role(current_user, c.relowner, 'USAGE') OR pg_has_role(current_user, d.datdba, 'USAGE')
           OR CASE WHEN current_setting('server_version_num')::int >= 170000 THEN has_table_privilege(c.oid, 'MAINTAIN') ELSE false END AS ok,
           c.relowner::regrole::text AS owner, current_user AS role
    FROM pg_class c, pg_database d WHERE c.oid = to_regclass($1) AND d.datname = current_database()`, [target]);
  const row = may.rows[0];
  if (row && !row.ok) {
    return { table: target, ok: false, denied: true, error: `role "${row.role}" may not ANALYZE it (owner: ${row.owner}); run --apply as the owner (README, section Roles: migrator) or ask the owner to run ANALYZE ${target}` };
  }
  const skipped: string[] = [];
  const onNotice = (n: { message?: string }) => { if (/^skipping /.test(n.message ?? '')) skipped.push(n.message!); };
  client.on('notice', onNotice);
  try {
    await client.query(`ANALYZE ${target}`);
    if (skipped.length > 0) return { table: target, ok: false, denied: true, error: skipped[0]! };
    return { table: target, ok: true };
  } catch (err) {
    return { table: target, ok: false, error: (err as Error).message };
  } finally {
    client.off('notice', onNotice);
  }
}
