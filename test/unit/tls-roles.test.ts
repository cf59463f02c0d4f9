import { describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.ts';
import { mapToolConnectFailure } from '../../src/db/errors.ts';
import { checkKeyFile } from '../../src/db/tls.ts';
import { BACKUP_PUBLICATION_SQL, buildRolesSql } from '../../src/roles/sql.ts';
import { CREATE_PUBLICATION_SQL } from '../../src/backup/slots.ts';

const cwd = '/work/app';

describe('client certificates in the configuration', () => {
  test('URL parameters, PG* variables and flags, made absolute; flags win', () => {
    const fromUrl = resolveConfig({ cwd, flags: { databaseUrl: 'postgres://u@h/db?sslmode=verify-full&sslrootcert=ca.crt&sslcert=c.crt&sslkey=c.key' } }).connection;
    expect(fromUrl).toMatchObject({ sslCert: '/work/app/c.crt', sslKey: '/work/app/c.key', sslRootCert: '/work/app/ca.crt' });
    const fromEnv = resolveConfig({ cwd, env: { PGSSLCERT: '/e/c.crt', PGSSLKEY: '/e/c.key' } }).connection;
    expect(fromEnv).toMatchObject({ sslCert: '/e/c.crt', sslKey: '/e/c.key' });
    const flagged = resolveConfig({ cwd, env: { PGSSLCERT: '/e/c.crt', PGSSLKEY: '/e/c.key' }, flags: { sslCert: '/f/c.crt', sslKey: '/f/c.key' } }).connection;
    expect(flagged).toMatchObject({ sslCert: '/f/c.crt', sslKey: '/f/c.key' });
  });

  test('a certificate without its key (or the reverse) is a config error naming both flags', () => {
    expect(() => resolveConfig({ cwd, env: { PGSSLCERT: '/e/c.crt' } })).toThrow(expect.objectContaining({ exitCode: 78, code: 'config.ssl_cert' }));
  });
});

describe("libpq's private key permission rule", () => {
  test.each([
    [0o100600, 1000, true, null],
    [0o100400, 1000, true, null],
    [0o100640, 1000, true, 'group or world access'],
    [0o100644, 1000, true, 'group or world access'],
    [0o100640, 0, true, null], // root-owned may be group-readable
    [0o100660, 0, true, 'group or world access'],
    [0o100604, 0, true, 'group or world access'],
    [0o040700, 1000, false, 'not a regular file'],
  ])('mode %o owner %i', (mode, uid, isFile, problem) => {
    const r = checkKeyFile('/k', mode, uid, isFile, 1000);
    if (problem === null) expect(r).toBeNull();
    else expect(r).toContain(problem);
  });
});

describe('a libpq child that could not connect fails like the driver', () => {
  const c = resolveConfig({ cwd, flags: { databaseUrl: 'postgres://mon@127.0.0.1:5433/axisor?sslmode=require&sslrootcert=/etc/ca.crt' } }).connection;
  test.each([
    ['psql: error: connection to server at "127.0.0.1", port 5433 failed: SSL error: certificate verify failed', 'connection.ssl_verify'],
    ['psql: error: connection to server at "127.0.0.1", port 5433 failed: FATAL:  password authentication failed for user "mon"', 'connection.auth_failed'],
    ['psql: error: connection to server at "127.0.0.1", port 5433 failed: FATAL:  certificate authentication failed for user "mon"', 'connection.cert_auth'],
    ['psql: error: connection to server at "127.0.0.1", port 5433 failed: Connection refused', 'connection.refused'],
    ['pg_dump: error: connection to server at "127.0.0.1", port 5433 failed: FATAL:  must be superuser or replication role to start walsender', 'privilege.replication'],
    ['psql: error: connection to server at "127.0.0.1", port 5433 failed: private key file "/k" has group or world access; file must have permissions u=rw (0600) or less', 'config.ssl_key_permissions'],
  ])('%s', (stderr, code) => {
    expect(mapToolConnectFailure(stderr, c)?.code).toBe(code);
  });

  test('the wrong-CA hint names the CA file and does not suggest turning verification off', () => {
    const e = mapToolConnectFailure('psql: error: connection to server at "127.0.0.1", port 5433 failed: SSL error: certificate verify failed', c)!;
    expect(e.hint).toContain('/etc/ca.crt');
    expect(e.hint).not.toMatch(/require|disable|skip/);
  });

  test('failures after connecting are left to the caller', () => {
    expect(mapToolConnectFailure('pg_dump: error: query failed: ERROR:  relation "x" does not exist', c)).toBeNull();
  });
});

describe('roles --print-sql', () => {
  test('names carry the prefix; identifiers that need it are quoted; the restore role joins the owners', () => {
    const r = buildRolesSql({ prefix: 'app_', database: 'Axisor Prod', schema: 'public', owners: ['app_owner'] });
    expect(r.roles.map((x) => x.name)).toEqual(['app_backup', 'app_restore', 'app_monitor', 'app_developer', 'app_migrator']);
    expect(r.script).toContain('GRANT CONNECT ON DATABASE "Axisor Prod" TO app_backup;');
    expect(r.script).toContain('GRANT app_owner TO app_restore;');
    expect(r.script).toContain('CREATE SCHEMA IF NOT EXISTS axisor_quarantine AUTHORIZATION app_migrator;');
    // the migrator is created before the developer's default privileges name it
    expect(r.script.indexOf('CREATE ROLE app_migrator')).toBeLessThan(r.script.indexOf('FOR ROLE app_migrator'));
  });

  test('a prefix that is not a plain identifier is a usage error', () => {
    expect(() => buildRolesSql({ prefix: 'x"; DROP', database: 'd', schema: 's' })).toThrow(expect.objectContaining({ exitCode: 64 }));
  });
});

test("libpq's default files in ~/.postgresql are used when present, so the driver and the children agree", () => {
  const home = mkdtempSync(join(tmpdir(), 'axisor-home-'));
  try {
    mkdirSync(join(home, '.postgresql'));
    for (const f of ['root.crt', 'postgresql.crt', 'postgresql.key']) writeFileSync(join(home, '.postgresql', f), 'x');
    const c = resolveConfig({ cwd, env: { HOME: home, PGSSLMODE: 'require' } }).connection;
    expect(c).toMatchObject({ sslRootCert: join(home, '.postgresql/root.crt'), sslCert: join(home, '.postgresql/postgresql.crt'), sslKey: join(home, '.postgresql/postgresql.key') });
    // explicit settings win, and sslmode=disable uses none
    expect(resolveConfig({ cwd, env: { HOME: home, PGSSLROOTCERT: '/etc/ca.crt' } }).connection.sslRootCert).toBe('/etc/ca.crt');
    expect(resolveConfig({ cwd, env: { HOME: home, PGSSLMODE: 'disable' } }).connection.sslRootCert).toBeUndefined();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('the roles script names the publication backups decode through (the same statement backup itself would run)', () => {
  expect(BACKUP_PUBLICATION_SQL).toBe(CREATE_PUBLICATION_SQL);
  expect(buildRolesSql({ prefix: 'axisor_', database: 'axisor', schema: 'public' }).script).toContain(`--   ${CREATE_PUBLICATION_SQL};`);
});
