import { badValue } from '../errors.ts';
import type { ConnectionLayer, SslMode } from './types.ts';
import { SSL_MODES } from './types.ts';
import { registerSecret } from './secrets.ts';

/**
 * Splits `user:password@` off the text after `scheme://`. A password people paste unencoded may hold '#', '?', '/'
 * or '@': the user info ends at the last '@' whose user part (before the first ':') has no '/', '?' or '#'.
 * `host:5432/db?x=a@b` (no user info, an '@' in a parameter) is recognised by its numeric "password" + path.
 * Otherwise the user info ends at the last '@' before the first '/', '?' or '#' (WHATWG), or there is none.
 */
export function splitUserInfo(afterScheme: string): { userinfo?: string; rest: string } {
  const last = afterScheme.lastIndexOf('@');
  if (last >= 0) {
    const candidate = afterScheme.slice(0, last);
    const colon = candidate.indexOf(':');
    const userPart = colon < 0 ? candidate : candidate.slice(0, colon);
    const passwordPart = colon < 0 ? '' : candidate.slice(colon + 1);
    const looksLikePortAndPath = /^\d{1,5}[/?#]/.test(passwordPart);
    if (!/[/?#]/.test(userPart) && !looksLikePortAndPath) return { userinfo: candidate, rest: afterScheme.slice(last + 1) };
  }
  const end = afterScheme.search(/[/?#]/);
  const authority = end < 0 ? afterScheme : afterScheme.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at < 0) return { rest: afterScheme };
  return { userinfo: afterScheme.slice(0, at), rest: afterScheme.slice(at + 1) };
}

/**
 * Parses a postgres:// URL into connection fields. Errors name the bad part and where the URL came from
 * (`source` is e.g. "--database-url" or "DATABASE_URL") and never echo the password.
 */
export function parseDatabaseUrl(raw: string, source: string): ConnectionLayer {
  const text = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (!scheme) {
    throw badValue(source, 'url_scheme', `${source} is not a URL: it must start with postgres:// or postgresql://`, {
      hint: `set ${source} to postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    });
  }
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw badValue(source, 'url_scheme', `${source} has scheme '${scheme}:'; expected postgres:// or postgresql://`, {
      hint: `set ${source} to postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    });
  }
  const { userinfo, rest } = splitUserInfo(text.slice(scheme.length + 1).replace(/^\/\//, ''));
  const layer: ConnectionLayer = {};
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const rawUser = colon < 0 ? userinfo : userinfo.slice(0, colon);
    const rawPassword = colon < 0 ? undefined : userinfo.slice(colon + 1);
    // Registered before anything else can fail, so no later message can show it even half-parsed.
    if (rawPassword) registerSecret(rawPassword);
    try {
      if (rawUser) layer.user = decodeURIComponent(rawUser);
      if (rawPassword) layer.password = decodeURIComponent(rawPassword);
    } catch {
      throw badValue(source, 'url_encoding', `${source} has a malformed percent-escape in the user or password`, {
        hint: `percent-encode '%' itself as %25 in ${source}`,
      });
    }
    if (layer.password) registerSecret(layer.password);
  }
  const hasPassword = layer.password !== undefined;
  // WHATWG URL only knows ports for special schemes; parse the part after the user info as http to get host/port
  // validation. Once the user info is split off (above, the way libpq does), the rest holds no secret.
  const portText = /^(?:\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/.exec(rest)?.[1];
  if (portText !== undefined && portText !== '' && (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)) {
    throw badValue(source, 'url_port', `${source} has an invalid port${hasPassword ? '' : ` '${portText}'`} (expected a number 1-65535)`, {
      hint: `fix the port in ${source}, e.g. postgres://user@host:5432/db`,
    });
  }
  let url: URL;
  try {
    // postgres:///db (no host, libpq's "use the default") has no WHATWG equivalent: mark the host as absent.
    url = new URL(`http://${/^[/?#]|^$/.test(rest) ? 'axisor-no-host' : ''}${rest}`);
  } catch {
    throw badValue(source, 'url_invalid', `${source} is not a valid URL (check the host part)`, {
      hint: `percent-encode special characters in the user name and password (e.g. '#' as %23, '/' as %2F) in ${source}`,
    });
  }
  if (url.hostname && url.hostname !== 'axisor-no-host') layer.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.port) {
    const port = Number(url.port);
    if (port < 1 || port > 65535) {
      throw badValue(source, 'url_port', `${source} has an invalid port '${url.port}' (expected 1-65535)`, {
        hint: `fix the port in ${source}`,
      });
    }
    layer.port = port;
  }
  try {
    const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (path) layer.database = path;
  } catch {
    throw badValue(source, 'url_encoding', `${source} has a malformed percent-escape in the database name`, {
      hint: `percent-encode '%' itself as %25 in ${source}`,
    });
  }
  for (const [key, value] of url.searchParams) {
    switch (key) {
      case 'host':
        layer.host = value;
        break;
      case 'port':
        if (!/^\d{1,5}$/.test(value)) {
          throw badValue(source, 'url_port', `${source} has an invalid port parameter '${value}'`, { hint: `fix ?port= in ${source}` });
        }
        layer.port = Number(value);
        break;
      case 'user':
        layer.user = value;
        break;
      case 'password':
        registerSecret(value);
        layer.password = value;
        break;
      case 'dbname':
        layer.database = value;
        break;
      case 'sslmode':
        layer.sslMode = parseSslMode(value, `${source} ?sslmode`);
        break;
      case 'sslrootcert':
        layer.sslRootCert = value;
        break;
      case 'sslcert':
        layer.sslCert = value;
        break;
      case 'sslkey':
        layer.sslKey = value;
        break;
      case 'application_name':
        layer.applicationName = value;
        break;
      case 'connect_timeout':
        if (!/^\d+$/.test(value)) {
          throw badValue(source, 'url_param', `${source} has an invalid connect_timeout '${value}' (seconds)`, { hint: `fix ?connect_timeout= in ${source}` });
        }
        layer.connectTimeoutSeconds = Number(value);
        break;
      case 'pgbouncer':
        layer.pgbouncer = value === 'true' || value === '1';
        break;
      case 'schema':
        layer.schema = value;
        break;
      default:
        // Unknown libpq parameters are ignored rather than rejected, as most drivers do.
        break;
    }
  }
  return layer;
}

export function parseSslMode(value: string, source: string): SslMode {
  const mode = value.toLowerCase();
  if ((SSL_MODES as readonly string[]).includes(mode)) return mode as SslMode;
  throw badValue(source, 'ssl_mode', `${source} '${value}' is not an SSL mode (expected one of ${SSL_MODES.join(', ')})`, {
    hint: `use --ssl-mode ${SSL_MODES.join('|')} or PGSSLMODE`,
  });
}

/** postgres://user@host:port/db, with no password: safe for logs, errors and JSON. */
export function redactedUrl(c: { host: string; port: number; user: string; database: string }): string {
  const host = c.host.startsWith('/') ? `localhost` : c.host.includes(':') ? `[${c.host}]` : c.host;
  const socket = c.host.startsWith('/') ? `?host=${encodeURIComponent(c.host)}` : '';
  return `postgres://${encodeURIComponent(c.user)}@${host}:${c.port}/${encodeURIComponent(c.database)}${socket}`;
}

/** Full URL including the password, for handing to a library in-process (never print it). */
export function secretUrl(c: { host: string; port: number; user: string; database: string; password?: string }): string {
  const auth = c.password === undefined ? encodeURIComponent(c.user) : `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}`;
  const hostPart = c.host.startsWith('/') ? 'localhost' : c.host.includes(':') ? `[${c.host}]` : c.host;
  const socket = c.host.startsWith('/') ? `?host=${encodeURIComponent(c.host)}` : '';
  return `postgres://${auth}@${hostPart}:${c.port}/${encodeURIComponent(c.database)}${socket}`;
}
