import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent } from '../db/ident.ts';

/** A database name derived from `base` that fits PostgreSQL's 63-byte limit. */
export function sideName(base: string, tag: string): string {
  const suffix = `_${tag}_${randomBytes(3).toString('hex')}`;
  let b = base;
  while (Buffer.byteLength(b + suffix) > 63) b = b.slice(0, -1);
  return b + suffix;
}

export async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
}

/** Counts user relations (tables, views, sequences...) outside the system schemas of another database. */
export async function countUserObjects(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: number }>(`
    SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`);
  return rows[0]!.n;
}

export async function createDatabase(admin: pg.Client, name: string, encoding: string): Promise<void> {
  // template0: the restored schema must not inherit whatever template1 holds on this server.
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteralSafe(encoding)}`);
}

export async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

function quoteLiteralSafe(s: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(s)) throw new Error(`unexpected encoding name ${s}`);
  return `'${s}'`;
}
