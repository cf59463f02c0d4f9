import type { Client } from 'pg';
import { quoteIdent } from '../db/ident.ts';
import { toDatabaseError } from '../db/errors.ts';

export interface NotValidForeignKey {
  table: string;
  constraint: string;
  /** The server's error when the constraint was created with validation (which rows break it). */
  reason: string;
}

/** Splits a pg_restore -l list into the foreign-key entries and everything else (both keep the header lines). */
export function splitForeignKeys(list: string): { rest: string; foreignKeys: string } {
  const rest: string[] = [];
  const fks: string[] = [];
  for (const line of list.split('\n')) (/^\d+; \d+ \d+ FK CONSTRAINT /.test(line) ? fks : rest).push(line);
  return { rest: `${rest.join('\n')}\n`, foreignKeys: fks.length ? `${fks.join('\n')}\n` : '' };
}

export interface ForeignKeyStatement {
  table: string;
  constraint: string;
  sql: string;
  /** `schema.table` of the REFERENCES clause, or null when it cannot be read (then the key waits for everything). */
  ref?: string | null;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[^\s."(]+)`;
const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);

/** The ALTER TABLE ... ADD CONSTRAINT statements of a pg_restore -f - script of FK CONSTRAINT entries. */
export function parseForeignKeyScript(script: string): ForeignKeyStatement[] {
  const out: ForeignKeyStatement[] = [];
  for (const block of script.split('\n--\n-- Name: ').slice(1)) {
    const head = /^(.*?); Type: FK CONSTRAINT; Schema: (.*?); Owner:/.exec(block);
    const start = block.indexOf('\nALTER TABLE ');
    if (!head || start === -1) continue;
    const end = block.indexOf(';\n', start);
    if (end === -1) continue;
    const sql = block.slice(start + 1, end + 1);
    const names = head[1]!;
    const constraint = /ADD CONSTRAINT ("(?:[^"]|"")+"|\S+)/.exec(sql)?.[1]?.replace(/^"|"$/g, '').replace(/""/g, '"') ?? names;
    const table = names.endsWith(` ${constraint}`) ? names.slice(0, -constraint.length - 1) : names;
    const r = new RegExp(`REFERENCES (${IDENT})\\.(${IDENT})`).exec(sql);
    out.push({ table: `${head[2]}.${table}`, constraint, sql, ref: r ? `${unquote(r[1]!)}.${unquote(r[2]!)}` : null });
  }
  return out;
}

/**
 * The order foreign keys are created in: ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on its table, which conflicts
 * with itself, so two keys of the same table never build at the same time; parallel sessions would just queue on
 * the big table. So the keys of one table form one group (run one after the other in one session), and the groups
 * run in parallel, biggest table first (its scans bound the phase; the small tables' keys fill the other sessions).
 */
export function scheduleForeignKeys(fks: ForeignKeyStatement[], rowsByTable: ReadonlyMap<string, number>): ForeignKeyStatement[][] {
  const groups = new Map<string, ForeignKeyStatement[]>();
  for (const fk of fks) {
    const g = groups.get(fk.table);
    if (g) g.push(fk);
    else groups.set(fk.table, [fk]);
  }
  const weight = (t: string) => (rowsByTable.get(t) ?? 0) * groups.get(t)!.length;
  return [...groups.keys()].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b)).map((t) => groups.get(t)!);
}

/**
 * createForeignKey creates a foreign key in one step (a partitioned table's: PostgreSQL 15 has no NOT VALID ones
 * there); validateForeignKey validates one created NOT VALID. One that the data violates (SQLSTATE 23503) stays NOT VALID: new
 * rows are checked, the existing violators stay and are reported (returned), and `axisor-db validate` lists them.
 * Any other failure fails the restore.
 */
export async function createForeignKey(c: Client, fk: ForeignKeyStatement): Promise<NotValidForeignKey | null> {
  try {
    await c.query(fk.sql);
    return null;
  } catch (err) {
    if ((err as { code?: string }).code !== '23503') throw toDatabaseError(err, `creating foreign key ${fk.constraint} on ${fk.table}`);
    const e = err as { message: string; detail?: string };
    await c.query(fk.sql.replace(/;\s*$/, ' NOT VALID;'));
    return { table: fk.table, constraint: fk.constraint, reason: `${e.message}${e.detail ? `: ${e.detail}` : ''}` };
  }
}

export async function validateForeignKey(c: Client, fk: ForeignKeyStatement): Promise<NotValidForeignKey | null> {
  const alter = /^ALTER TABLE (?:ONLY )?(.+?)\s+ADD CONSTRAINT /s.exec(fk.sql)?.[1];
  if (!alter) throw new Error(`internal: cannot read the table of foreign key ${fk.constraint}: ${fk.sql}`);
  try {
    await c.query(`ALTER TABLE ${alter} VALIDATE CONSTRAINT ${quoteIdent(fk.constraint)}`);
    return null;
  } catch (err) {
    if ((err as { code?: string }).code !== '23503') throw toDatabaseError(err, `validating foreign key ${fk.constraint} on ${fk.table}`);
    const e = err as { message: string; detail?: string };
    return { table: fk.table, constraint: fk.constraint, reason: `${e.message}${e.detail ? `: ${e.detail}` : ''}` };
  }
}
