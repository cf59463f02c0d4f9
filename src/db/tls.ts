import { readFileSync, statSync } from 'node:fs';
import type pg from 'pg';
import type { ConnectionSettings } from '../config/types.ts';
import { ConfigError } from '../errors.ts';

/**
 * The Node driver's TLS options, made to behave like libpq (PostgreSQL 15 docs, "SSL Support"):
 * - require WITH a root certificate verifies the chain, as libpq treats it then (like verify-ca); without one it
 *   only encrypts;
 * - verify-ca checks the chain, verify-full also the host name;
 * - sslcert/sslkey present a client certificate (pg_hba `cert` or `clientcert=verify-*`), and the key file must
 *   pass libpq's permission check, so a key libpq (pg_dump, psql) would refuse is refused here too.
 */
export function sslOption(c: ConnectionSettings, preferSsl: boolean): pg.ClientConfig['ssl'] {
  const client = c.sslCert && c.sslKey ? { cert: readPem(c.sslCert, 'client certificate', '--ssl-cert or PGSSLCERT'), key: readKey(c.sslKey) } : {};
  switch (c.sslMode) {
    case 'disable':
      return false;
    case 'prefer':
      return preferSsl ? { rejectUnauthorized: false, ...client } : false;
    case 'require':
      if (!c.sslRootCert) return { rejectUnauthorized: false, ...client };
      return { ca: readPem(c.sslRootCert, 'CA file', '--ssl-root-cert or PGSSLROOTCERT'), rejectUnauthorized: true, checkServerIdentity: () => undefined, ...client };
    case 'verify-ca':
    case 'verify-full': {
      const ca = readPem(c.sslRootCert!, 'CA file', '--ssl-root-cert or PGSSLROOTCERT');
      return c.sslMode === 'verify-full' ? { ca, rejectUnauthorized: true, ...client } : { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined, ...client };
    }
  }
}

function readPem(file: string, what: string, fix: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(what === 'CA file' ? 'ssl_ca' : 'ssl_cert', `cannot read the ${what} ${file}: ${(err as Error).message}`, { hint: `fix ${fix}` });
  }
}

/**
 * libpq's check (fe-secure-openssl.c): the key must be a regular file; owned by the current user it may not be
 * readable by group or others (0600 or less); owned by root it may be group-readable (0640 or less).
 */
export function checkKeyFile(file: string, mode: number, uid: number, isFile: boolean, currentUid: number | undefined): string | null {
  if (!isFile) return `private key file "${file}" is not a regular file`;
  const bad = uid === 0 ? mode & 0o037 : mode & 0o077;
  if (currentUid !== undefined && bad !== 0) {
    return `private key file "${file}" has group or world access (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root`;
  }
  return null;
}

function readKey(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new ConfigError('ssl_key', `cannot read the private key file ${file}: ${(err as Error).message}`, { hint: 'fix --ssl-key or PGSSLKEY' });
  }
  const problem = checkKeyFile(file, st.mode, st.uid, st.isFile(), typeof process.getuid === 'function' ? process.getuid() : undefined);
  if (problem) throw new ConfigError('ssl_key_permissions', problem, { hint: `chmod 0600 ${file} (as its owner), as libpq requires` });
  return readPem(file, 'private key file', '--ssl-key or PGSSLKEY');
}
