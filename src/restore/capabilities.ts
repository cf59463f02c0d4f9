import type { Client } from 'pg';

/**
 * Which of `names` the connected role may not create in the connected database, by the catalogs any role can
 * read (never by trying): a superuser creates all; otherwise an extension marked `superuser` and not `trusted`
 * is out, and the others need CREATE on the database. Extensions this server does not have are not listed here
 * (pg_restore then fails naming them: a missing package is not a privilege).
 */
export async function restoreCapabilities(c: Client, names: string[]): Promise<{ superuser: boolean; cannotCreate: Array<{ name: string; why: string }> }> {
  const superuser = (await c.query<{ su: boolean }>('SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user')).rows[0]?.su ?? false;
  if (superuser || names.length === 0) return { superuser, cannotCreate: [] };
  const { rows } = await c.query<{ name: string; su: boolean; can_create: boolean; superuser: boolean | null; trusted: boolean | null }>(`
    SELECT n.name, r.rolsuper AS su, has_database_privilege(current_database(), 'CREATE') AS can_create, v.superuser, v.trusted
      FROM unnest($1::text[]) AS n(name)
      JOIN pg_available_extensions e ON e.name = n.name
      LEFT JOIN pg_available_extension_versions v ON v.name = e.name AND v.version = e.default_version
     CROSS JOIN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) r`, [names]);
  const out: Array<{ name: string; why: string }> = [];
  for (const r of rows) {
    if (r.su) continue;
    if (r.superuser && !r.trusted) out.push({ name: r.name, why: 'needs a superuser (not a trusted extension)' });
    else if (!r.can_create) out.push({ name: r.name, why: 'needs CREATE on the database' });
  }
  return { superuser, cannotCreate: out.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name)) };
}
