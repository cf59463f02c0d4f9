import { ConfigError, ConnectionError, DatabaseError, NotFoundError, type AxisorError } from '../errors.ts';
import type { ConnectionSettings } from '../config/types.ts';
import { toPrivilegeError } from './privilege.ts';

interface PgLikeError extends Error {
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  severity?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

const CONNECT_HINT = 'check --database-url (or DATABASE_URL / PGHOST / PGPORT) and that the server is running';

function where(c: Pick<ConnectionSettings, 'host' | 'port'>): string {
  return c.host.startsWith('/') ? `socket ${c.host}/.s.PGSQL.${c.port}` : `${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}`;
}

/** Maps a failure while connecting to one clear error naming the host and the fix. Never includes the password. */
export function mapConnectError(err: unknown, c: ConnectionSettings): AxisorError {
  const e = err as PgLikeError;
  const at = where(c);
  const code = e?.code;
  const msg = String(e?.message ?? err);
  switch (code) {
    case 'ECONNREFUSED':
      return new ConnectionError('refused', `cannot connect to ${at}: connection refused`, { hint: CONNECT_HINT });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectionError('host_unknown', `cannot connect to ${at}: host name '${c.host}' does not resolve`, { hint: CONNECT_HINT });
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectionError('unreachable', `cannot connect to ${at}: ${code === 'ETIMEDOUT' ? 'timed out' : 'unreachable'}`, { hint: CONNECT_HINT });
    case 'ENOENT':
      return new ConnectionError('no_socket', `cannot connect to ${at}: no server socket there`, { hint: CONNECT_HINT });
    case 'ECONNRESET':
      return new ConnectionError('reset', `connection to ${at} was reset by the server`, { hint: 'the server may require SSL (--ssl-mode require) or be restarting' });
    case '28P01':
      return new ConnectionError('auth_failed', `password authentication failed for user "${c.user}" at ${at}`, {
        hint: 'give the password in the URL, PGPASSWORD or ~/.pgpass (PGPASSFILE)',
      });
    case '28000':
      if (/certificate/i.test(msg)) {
        return new ConnectionError('cert_auth', `the server at ${at} refused the client certificate for user "${c.user}": ${msg}`, {
          hint: c.sslCert
            ? `the certificate ${c.sslCert} must be signed by the server's ssl_ca_file and its CN must be "${c.user}" (or mapped in pg_ident.conf); check --ssl-cert/--ssl-key`
            : 'this pg_hba.conf entry wants a client certificate: pass --ssl-cert FILE --ssl-key FILE (or PGSSLCERT/PGSSLKEY, sslcert/sslkey in the URL)',
        });
      }
      if (/no encryption/i.test(msg)) {
        return new ConnectionError('ssl_required', `the server at ${at} requires SSL for user "${c.user}"`, { hint: 'use --ssl-mode require (or sslmode=require in the URL, or PGSSLMODE)' });
      }
      return new ConnectionError('auth_rejected', `the server at ${at} rejected user "${c.user}" for database "${c.database}" (pg_hba.conf)`, {
        hint: 'ask the DBA for a pg_hba.conf entry, or use another --database-url user',
      });
    case '42501':
      // No CONNECT on the database, or a replication connection without REPLICATION: a grant, not a bug.
      return toPrivilegeError(err, { role: c.user, database: c.database, action: `connect to database "${c.database}" at ${at}` })!;
    case '3D000':
      return new NotFoundError('database', `database "${c.database}" does not exist at ${at}`, {
        hint: `create it (createdb "${c.database}") or fix the database name in --database-url / PGDATABASE`,
      });
    case '57P03':
      return new ConnectionError('starting', `the server at ${at} is starting up or shutting down`, { hint: 'retry in a moment' });
    case '53300':
      return new ConnectionError('too_many', `the server at ${at} has no free connection slots (max_connections reached)`, { hint: 'run axisor-db debug-pool against it, or lower pool sizes' });
    default:
      break;
  }
  if (/does not support SSL/i.test(msg)) {
    return new ConnectionError('ssl_unsupported', `the server at ${at} does not support SSL`, { hint: 'use --ssl-mode disable or prefer' });
  }
  if (/client password must be a string|password authentication/i.test(msg)) {
    return new ConnectionError('auth_failed', `the server at ${at} asked for a password for user "${c.user}" and none was given`, {
      hint: 'give the password in the URL, PGPASSWORD or ~/.pgpass (PGPASSFILE)',
    });
  }
  if (/altnames|does not match certificate|does not match host name/i.test(msg)) {
    return new ConnectionError('ssl_hostname', `SSL verification of ${at} failed: the server certificate does not name host "${c.host}" (${msg})`, {
      hint: `connect with a host name the certificate lists (--database-url), or have the DBA issue a certificate for "${c.host}"`,
    });
  }
  if (/certificate|self[- ]signed|issuer/i.test(msg)) {
    return new ConnectionError('ssl_verify', `SSL verification of ${at} failed: the server certificate is not signed by the CA in ${c.sslRootCert ?? '(no CA file)'} (${msg})`, {
      hint: c.sslRootCert
        ? `point --ssl-root-cert (PGSSLROOTCERT, sslrootcert=) at the CA that signed the server's certificate; ${c.sslRootCert} is not it`
        : 'give the CA that signed the server\'s certificate with --ssl-root-cert (PGSSLROOTCERT, sslrootcert=)',
    });
  }
  if (/timeout/i.test(msg)) {
    return new ConnectionError('timeout', `cannot connect to ${at}: timed out`, { hint: CONNECT_HINT });
  }
  if (/Connection terminated/i.test(msg)) {
    return new ConnectionError('terminated', `connection to ${at} was closed during start-up`, { hint: CONNECT_HINT });
  }
  return toDatabaseError(err);
}

/** Wraps a server-side error, keeping SQLSTATE, detail, hint and position. */
export function toDatabaseError(err: unknown, context?: string): AxisorError {
  const e = err as PgLikeError;
  if (e && typeof e === 'object' && 'exitCode' in e) return e as unknown as AxisorError;
  const details: Record<string, unknown> = {};
  for (const k of ['detail', 'position', 'schema', 'table', 'column', 'constraint'] as const) if (e?.[k]) details[k] = e[k];
  return new DatabaseError(`${context ? `${context}: ` : ''}${e?.message ?? String(err)}${e?.code ? ` (SQLSTATE ${e.code})` : ''}`, {
    sqlState: e?.code && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined,
    hint: e?.hint,
    details: Object.keys(details).length ? details : undefined,
    cause: err,
  });
}

/**
 * The same mapping for a libpq child (psql, pg_dump, pg_restore) that could not connect: its stderr reads
 * 'psql: error: connection to server at "h", port p failed: FATAL:  ...' or '... failed: SSL error: certificate
 * verify failed'. Returns null when the failure happened after connecting (the caller keeps its own error).
 */
export function mapToolConnectFailure(stderr: string, c: ConnectionSettings): AxisorError | null {
  const key = /private key file "[^"]*" (?:has group or world access|is not a regular file)[^\n]*/.exec(stderr);
  if (key) return new ConfigError('ssl_key_permissions', key[0], { hint: `chmod 0600 ${c.sslKey ?? 'the key file'} (as its owner), as libpq requires` });
  const m = /connection to server (?:at|on) .*? failed: (.*)/.exec(stderr);
  if (!m) return null;
  const msg = m[1]!.replace(/^(FATAL|ERROR):\s+/, '').trim();
  const code = /password authentication failed/i.test(msg) ? '28P01'
    : /Connection refused/i.test(msg) ? 'ECONNREFUSED'
    : /certificate authentication failed|no pg_hba\.conf entry|requires a valid client certificate/i.test(msg) ? '28000'
    : /database "[^"]*" does not exist/i.test(msg) ? '3D000'
    : /permission denied for database|replication role|CONNECT privilege/i.test(msg) ? '42501'
    : /could not translate host name/i.test(msg) ? 'ENOTFOUND'
    : undefined;
  return mapConnectError(Object.assign(new Error(msg), code ? { code } : {}), c);
}
