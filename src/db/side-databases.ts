import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { quoteIdent, quoteLiteral } from './ident.ts';
import { RefusedError } from '../errors.ts';
import { ownerAlive, ownerStamp, type OwnerStamp } from '../pgtools/owner.ts';
import { withTransaction } from './transaction.ts';

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

/** Names no restore may replace: the templates every CREATE DATABASE copies, and the default maintenance database. */
export const PROTECTED_DATABASES = ['template0', 'template1', 'postgres'] as const;

/**
 * Refuses a restore target that must never be replaced (77): template0/template1 (every later CREATE DATABASE
 * would clone the backup), postgres, any database marked as a template, and the database the restore's own
 * session is connected to. Runs before anything is read or created.
 */
export async function assertRestorableTarget(admin: pg.Client, target: string): Promise<void> {
  const { rows } = await admin.query<{ cur: string; tmpl: boolean | null }>(
    'SELECT current_database() AS cur, (SELECT datistemplate FROM pg_database WHERE datname = $1) AS tmpl', [target]);
  const { cur, tmpl } = rows[0]!;
  const why = (PROTECTED_DATABASES as readonly string[]).includes(target) ? `${target} is a system database`
    : tmpl ? `${target} is a template database (datistemplate): every CREATE DATABASE from it would copy the restored data`
      : target === cur ? `${target} is the database this restore is connected to (--maintenance-db)` : null;
  if (why) {
    throw new RefusedError('protected_target', `refusing to restore into ${target}: ${why}`, {
      hint: 'choose another --target-db (and, to replace the connected database, connect through another --maintenance-db)',
    });
  }
}

/** The COMMENT that marks a side database (restore, verify scratch, replaced target) with its owner process. */
const MARK = 'axisor-db side database ';

export interface SideMark extends OwnerStamp {
  purpose: 'restore' | 'verify' | 'replaced';
  /** The database this side database was made for. */
  target?: string;
}

export function sideComment(purpose: SideMark['purpose'], target?: string): string {
  const mark: SideMark = { purpose, ...(target ? { target } : {}), ...ownerStamp() };
  return MARK + JSON.stringify(mark);
}

/**
 * Marks a side database. The mark must be durable before any work goes into the database: with
 * synchronous_commit = off a server crash right after could lose it and leave an unmarked copy nobody sweeps, so
 * this commit waits for its WAL flush. Inside a caller's transaction (the swap) it only sets the comment.
 */
export async function markSideDatabase(admin: pg.Client, name: string, purpose: SideMark['purpose'], target?: string, inTransaction = false): Promise<void> {
  const comment = `COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(sideComment(purpose, target))}`;
  if (inTransaction) {
    await admin.query(`SET LOCAL synchronous_commit = on`);
    await admin.query(comment);
    return;
  }
  await withTransaction(admin, { mapErrors: false }, async () => {
    await admin.query('SET LOCAL synchronous_commit = on');
    await admin.query(comment);
  });
}

/**
 * Creates a side database from template0 (the restored schema must not inherit whatever template1 holds) and
 * marks it with this process, so that if we are killed the next run drops it (sweepSideDatabases).
 */
export async function createDatabase(admin: pg.Client, name: string, encoding: string, purpose: SideMark['purpose'] = 'restore', target?: string): Promise<void> {
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteralSafe(encoding)}`);
  try {
    await markSideDatabase(admin, name, purpose, target);
  } catch (err) {
    await dropDatabase(admin, name).catch(() => {});
    throw err;
  }
}

export async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

export function parseSideMark(comment: string | null): SideMark | null {
  if (!comment?.startsWith(MARK)) return null;
  try {
    const m = JSON.parse(comment.slice(MARK.length)) as SideMark;
    return typeof m.pid === 'number' ? m : null;
  } catch {
    return null;
  }
}

/**
 * Drops the side databases of dead axisor-db runs on this host (killed restores and verify drills, and targets a
 * killed --clean restore had already replaced). WITH (FORCE) also ends the sessions an orphaned pg_restore worker
 * may still hold. Databases of live runs, of other hosts, and anything without our mark are never touched.
 */
export async function sweepSideDatabases(admin: pg.Client): Promise<{ dropped: string[]; problems: string[] }> {
  const { rows } = await admin.query<{ datname: string; c: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE 'axisor-db side database %'`);
  const dropped: string[] = [];
  const problems: string[] = [];
  for (const r of rows) {
    const mark = parseSideMark(r.c);
    if (!mark || ownerAlive(mark)) continue;
    try {
      await dropDatabase(admin, r.datname);
      dropped.push(r.datname);
    } catch (err) {
      problems.push(`could not drop ${r.datname}, left by a killed run (pid ${mark.pid}): ${(err as Error).message}`);
    }
  }
  return { dropped, problems };
}

function quoteLiteralSafe(s: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(s)) throw new Error(`unexpected encoding name ${s}`);
  return `'${s}'`;
}
