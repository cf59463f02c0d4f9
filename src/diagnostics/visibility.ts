import type pg from 'pg';
import { displayIdent } from '../db/ident.ts';
import type { Finding } from './findings.ts';

/**
 * What this role may see of other sessions. Without the privileges of pg_read_all_stats (pg_monitor has them)
 * PostgreSQL still lists other roles' sessions in pg_stat_activity, but with state, backend_type, query and
 * timestamps NULL / '<insufficient privilege>', and pg_stat_statements hides their query texts and ids.
 * A diagnostic that filtered on those columns would silently report less than is there.
 */
export interface Visibility {
  role: string;
  /** Has the privileges of pg_read_all_stats (superusers and pg_monitor members do). */
  readAllStats: boolean;
  /** The exact grant that lifts the limit, with the role filled in. */
  grant: string;
}

export async function readVisibility(client: pg.Client | pg.PoolClient): Promise<Visibility> {
  const { rows } = await client.query(`SELECT current_user AS role, pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS all_stats`);
  const role = rows[0].role as string;
  return { role, readAllStats: rows[0].all_stats, grant: `GRANT pg_read_all_stats TO ${displayIdent(role)};` };
}

/** A warning (never a silent 0) when things of other roles were hidden from this run. */
export function hiddenFinding(v: Visibility, check: string, count: number, what: string, consequence: string): Finding | null {
  if (v.readAllStats || count === 0) return null;
  return {
    check, severity: 'warning', value: count,
    message: `${count} ${what} of other roles hidden from role "${v.role}" (no pg_read_all_stats): ${consequence}. As a DBA: ${v.grant} (or GRANT pg_monitor TO ${displayIdent(v.role)};)`,
  };
}
