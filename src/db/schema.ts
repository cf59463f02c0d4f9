import type pg from 'pg';
import { PrivilegeError } from '../errors.ts';
import { displayIdent, quoteIdent } from './ident.ts';
import { mapPrivilege } from './privilege.ts';

type Queryable = pg.Client | pg.PoolClient;

/**
 * Makes sure a schema exists without needing more than that. `CREATE SCHEMA IF NOT EXISTS` checks CREATE on the
 * DATABASE before it looks for the schema, so a schema owner without that privilege fails even when the schema
 * is there; this looks first and only creates a missing one. When it is missing and the role may not create it,
 * the error names the one-time DBA statement (CREATE SCHEMA ... AUTHORIZATION <role>).
 */
export async function ensureSchema(client: Queryable, schema: string, purpose: string): Promise<'exists' | 'created'> {
  const { rows } = await client.query(`
    SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present,
           has_database_privilege(current_database(), 'CREATE') AS may_create, current_user AS role, current_database() AS db`, [schema]);
  const r = rows[0];
  if (r.present) return 'exists';
  if (!r.may_create) {
    const sql = `CREATE SCHEMA ${displayIdent(schema)} AUTHORIZATION ${displayIdent(r.role)};`;
    throw new PrivilegeError('database', `cannot create schema "${schema}" (${purpose}): role "${r.role}" has no CREATE privilege on database "${r.db}"`, {
      hint: `as a DBA (once), in database ${displayIdent(r.db)}: ${sql} (or GRANT CREATE ON DATABASE ${displayIdent(r.db)} TO ${displayIdent(r.role)};)`,
      details: { role: r.role, object: `database ${r.db}`, sql },
    });
  }
  await mapPrivilege({ role: r.role, database: r.db, action: `create schema "${schema}" (${purpose})` }, () => client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`));
  return 'created';
}
