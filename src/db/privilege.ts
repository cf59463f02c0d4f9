import { PrivilegeError } from '../errors.ts';
import { displayIdent } from './ident.ts';

/**
 * Turns "permission denied" failures (SQLSTATE 42501 insufficient_privilege, and the start-up refusals of a
 * walsender) into a PrivilegeError (exit 67) whose message names the role and the object and whose hint is the
 * exact GRANT / ALTER a DBA runs, with the real role name filled in. Works on a driver error (code, message,
 * detail) and on the stderr text of pg_dump/pg_restore/psql, so backup and restore can share it.
 *
 * PostgreSQL words these differently across versions (PG16 moved "must be superuser or have privileges of X"
 * into the DETAIL: 'Only roles with privileges of the "X" role may ...'), so both spellings are recognised.
 */
export interface PrivilegeContext {
  /** The role that ran the statement (current_user); quoted in the GRANT. */
  role: string;
  /** The database the session is in, for GRANT ... ON DATABASE. */
  database?: string;
  /** What the tool was doing, e.g. "create the quarantine schema"; starts the message. */
  action?: string;
  /**
   * The privilege the statement needed on a table/sequence when the caller knows it (SELECT, INSERT, UPDATE...).
   * PostgreSQL's message does not say which one was missing; without this the hint names SELECT for tables.
   */
  tablePrivilege?: string;
  /** The schema of an unqualified table name in the message, when the caller knows it. */
  schema?: string;
  /** Extra hint text appended after the GRANT (e.g. "or run with --no-drill"). */
  alternative?: string;
}

interface PgLike {
  code?: string;
  message?: string;
  detail?: string;
}

/** The parsed shape of one refusal: which object, and what fixes it. */
export interface PrivilegeFix {
  /** Short code after "privilege.": table, schema, database, createdb, replication, role_membership... */
  kind: string;
  /** The object as the server named it ("table trades", "database axisor"...). */
  object: string;
  /** The exact SQL a DBA runs, with the role filled in. */
  sql: string;
}

const q = (name: string) => (name === 'public' ? name : displayIdent(name));
const qualified = (name: string, schema?: string) => (name.includes('.') || !schema ? name.split('.').map((p) => q(p.replace(/^"|"$/g, ''))).join('.') : `${q(schema)}.${q(name)}`);

/** Recognises the server's wording; returns null for anything that is not a missing privilege. */
export function privilegeFix(message: string, detail: string | undefined, ctx: PrivilegeContext): PrivilegeFix | null {
  const role = q(ctx.role);
  const text = `${message}\n${detail ?? ''}`;
  let m: RegExpExecArray | null;
  // PG15: must be superuser or have privileges of pg_read_all_settings to examine "x"
  // PG16+: permission denied to examine "x" / DETAIL: Only roles with privileges of the "pg_read_all_settings" role may examine this parameter.
  if ((m = /have privileges of "?([a-z_]+)"? to (?:examine|set) "([^"]+)"/i.exec(text)) || (m = /privileges of the "([a-z_]+)" role may (?:examine|set)/i.exec(text))) {
    const grantRole = m[1]!;
    const param = m[2] ?? /"([^"]+)"/.exec(message)?.[1] ?? 'the parameter';
    return { kind: 'predefined_role', object: `setting ${param}`, sql: `GRANT ${grantRole} TO ${role};` };
  }
  if ((m = /Only roles with privileges of the "([a-z_]+)" role/i.exec(text)) || (m = /must be (?:a )?(?:superuser or )?(?:have privileges of|a member of) (?:the )?"?(pg_[a-z_]+)"?/i.exec(text))) {
    return { kind: 'predefined_role', object: `role ${m[1]}`, sql: `GRANT ${m[1]} TO ${role};` };
  }
  if ((m = /permission denied to set parameter "([^"]+)"/i.exec(text))) {
    // PG15+: a superuser-only (SUSET) parameter can be granted one by one.
    return { kind: 'parameter', object: `parameter ${m[1]}`, sql: `GRANT SET ON PARAMETER ${m[1]} TO ${role};` };
  }
  if (/replication role|start (?:a )?WAL sender|REPLICATION attribute|to use replication slots/i.test(text)) {
    return { kind: 'replication', object: 'replication', sql: `ALTER ROLE ${role} REPLICATION;` };
  }
  if (/permission denied to create database|CREATEDB attribute/i.test(text)) {
    return { kind: 'createdb', object: 'CREATE DATABASE', sql: `ALTER ROLE ${role} CREATEDB;` };
  }
  if ((m = /permission denied to create extension "([^"]+)"/i.exec(text))) {
    // Not a grant: an untrusted extension needs a superuser (or a trusted-extension setup) once per database.
    return { kind: 'extension', object: `extension ${m[1]}`, sql: `CREATE EXTENSION IF NOT EXISTS ${q(m[1]!)};${ctx.database ? ` -- as a superuser, in database ${q(ctx.database)}` : ' -- as a superuser'}` };
  }
  if ((m = /must be (?:a )?member of role "([^"]+)"/i.exec(text)) || (m = /must be able to SET ROLE "([^"]+)"/i.exec(text)) || (m = /permission denied to set role "([^"]+)"/i.exec(text))) {
    return { kind: 'role_membership', object: `role ${m[1]}`, sql: `GRANT ${q(m[1]!)} TO ${role};` };
  }
  if ((m = /must be owner of (table|relation|index|sequence|view|materialized view|schema|database|function|extension|type) ([^\s]+)/i.exec(message))) {
    const kind = m[1]!.toLowerCase() === 'relation' ? 'table' : m[1]!.toLowerCase();
    const name = kind === 'schema' || kind === 'database' || kind === 'extension' ? q(m[2]!) : kind === 'function' ? m[2]! : qualified(m[2]!, ctx.schema);
    const objectKind = kind === 'index' ? 'INDEX' : kind.toUpperCase();
    return { kind: 'owner', object: `${kind} ${m[2]}`, sql: `ALTER ${objectKind} ${name} OWNER TO ${role};` };
  }
  if ((m = /permission denied for (table|relation|view|materialized view|sequence|schema|database|function|procedure|large object|language|tablespace|type) ([^\s]+)/i.exec(message))) {
    const kind = m[1]!.toLowerCase();
    const raw = m[2]!.replace(/^"(.*)"$/, '$1'); // the start-up refusal quotes the name: permission denied for database "x"
    switch (kind) {
      case 'schema': {
        const priv = /creat/i.test(ctx.action ?? '') ? 'CREATE' : 'USAGE';
        return { kind: 'schema', object: `schema ${raw}`, sql: `GRANT ${priv} ON SCHEMA ${q(raw)} TO ${role};` };
      }
      case 'database':
        // CONNECT is checked at start-up (a 42501 FATAL); anything later on a database is CREATE (schemas, temp tables).
        return { kind: 'database', object: `database ${raw}`, sql: `GRANT ${/CONNECT privilege/.test(text) || /^connect/i.test(ctx.action ?? '') ? 'CONNECT' : 'CREATE'} ON DATABASE ${q(raw)} TO ${role};` };
      case 'sequence':
        return { kind: 'sequence', object: `sequence ${raw}`, sql: `GRANT ${ctx.tablePrivilege ?? 'USAGE'} ON SEQUENCE ${qualified(raw, ctx.schema)} TO ${role};` };
      case 'function':
      case 'procedure':
        return { kind: 'function', object: `${kind} ${raw}`, sql: `GRANT EXECUTE ON ${kind.toUpperCase()} ${raw} TO ${role};` };
      case 'large object':
        return { kind: 'large_object', object: `large object ${raw}`, sql: `GRANT SELECT ON LARGE OBJECT ${raw} TO ${role};` };
      case 'language':
      case 'tablespace':
      case 'type':
        return { kind, object: `${kind} ${raw}`, sql: `GRANT ${kind === 'tablespace' ? 'CREATE' : 'USAGE'} ON ${kind.toUpperCase()} ${q(raw)} TO ${role};` };
      default:
        return { kind: 'table', object: `${kind} ${raw}`, sql: `GRANT ${ctx.tablePrivilege ?? 'SELECT'} ON TABLE ${qualified(raw, ctx.schema)} TO ${role};` };
    }
  }
  if ((m = /permission denied for database "?([^"\s]+)"?/i.exec(text))) {
    return { kind: 'database', object: `database ${m[1]}`, sql: `GRANT CONNECT ON DATABASE ${q(m[1]!)} TO ${role};` };
  }
  return null;
}

/** SQLSTATE 42501, or a walsender start-up refusal (28000 on older servers). */
export function isPrivilegeFailure(err: unknown): boolean {
  const e = err as PgLike;
  if (!e || typeof e !== 'object') return false;
  if (e.code === '42501') return true;
  return (e.code === '28000' || e.code === undefined) && /replication role|WAL sender|permission denied|must be owner|must be superuser|must be member of role/i.test(String(e.message ?? ''));
}

function build(fix: PrivilegeFix, message: string, ctx: PrivilegeContext, cause?: unknown): PrivilegeError {
  const doing = ctx.action ? `cannot ${ctx.action}: ` : '';
  return new PrivilegeError(fix.kind, `${doing}role "${ctx.role}" lacks a privilege on ${fix.object} (${message.replace(/^(ERROR|FATAL):\s*/i, '').trim()})`, {
    hint: `as a DBA (once): ${fix.sql}${ctx.alternative ? `; ${ctx.alternative}` : ''}`,
    details: { role: ctx.role, object: fix.object, sql: fix.sql },
    cause,
  });
}

/**
 * A PrivilegeError for a driver error that is a missing privilege, or null (the caller rethrows the original).
 * A 42501 whose wording is unknown still becomes a PrivilegeError naming the role (never an internal error).
 */
export function toPrivilegeError(err: unknown, ctx: PrivilegeContext): PrivilegeError | null {
  if (err instanceof PrivilegeError) return err;
  if (!isPrivilegeFailure(err)) return null;
  const e = err as PgLike;
  const message = String(e.message ?? err);
  const fix = privilegeFix(message, e.detail, ctx);
  if (fix) return build(fix, message, ctx, err);
  return new PrivilegeError('unknown', `${ctx.action ? `cannot ${ctx.action}: ` : ''}role "${ctx.role}" lacks a privilege: ${message}`, {
    hint: `ask a DBA to grant role ${q(ctx.role)} what the message names (see README, section Roles)${ctx.alternative ? `; ${ctx.alternative}` : ''}`,
    details: { role: ctx.role },
    cause: err,
  });
}

/** The same for the stderr of pg_dump/pg_restore/psql ("pg_dump: error: ... ERROR:  permission denied for table x"). */
export function privilegeFromToolOutput(stderr: string, ctx: PrivilegeContext): PrivilegeError | null {
  const lines = stderr.split('\n');
  for (const [i, line] of lines.entries()) {
    const msg = /(?:ERROR|FATAL):\s+(.*)$/.exec(line)?.[1] ?? (/permission denied|must be owner|must be member/i.test(line) ? line.replace(/^[a-z_]+:\s*(error:\s*)?/i, '') : null);
    if (!msg) continue;
    const detail = /DETAIL:\s+(.*)$/.exec(lines[i + 1] ?? '')?.[1];
    const fix = privilegeFix(msg, detail, ctx);
    if (fix) return build(fix, msg, ctx);
  }
  return null;
}

/** Runs fn; a missing privilege becomes a PrivilegeError, anything else is rethrown unchanged. */
export async function mapPrivilege<T>(ctx: PrivilegeContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toPrivilegeError(err, ctx) ?? err;
  }
}
