import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { resolveConfig, parseDatabaseUrl, redact, parseDuration } from '../../src/config/index.ts';
import { AxisorError, ExitCode } from '../../src/errors.ts';

const made: string[] = [];
/** A temporary directory removed after the file's tests. */
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const cwd = tempDir('axisor-cfg-');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as AxisorError).code;
  }
  return undefined;
}

describe('parseDatabaseUrl', () => {
  test('percent-encoded passwords with special characters decode exactly', () => {
    const pw = 'p@ss:w/rd#%? é';
    const l = parseDatabaseUrl(`postgres://app:${encodeURIComponent(pw)}@db.example:6543/axisor?sslmode=require`, 'DATABASE_URL');
    expect(l).toMatchObject({ user: 'app', host: 'db.example', port: 6543, database: 'axisor', sslMode: 'require' });
    expect(l.password).toBe(pw);
  });
  test('an unencoded @ in the password still parses (last @ ends the user info)', () => {
    expect(parseDatabaseUrl('postgresql://u:a@b@h/db', 'x').password).toBe('a@b');
  });
  test.each([
    ['mysql://u@h/db', 'config.url_scheme'],
    ['not a url', 'config.url_scheme'],
    ['postgres://u@h:port/db', 'config.url_port'],
    ['postgres://u@h:99999/db', 'config.url_port'],
    ['postgres://u:%zz@h/db', 'config.url_encoding'],
    ['postgres://u@h/db?sslmode=sometimes', 'config.ssl_mode'],
  ])('%s is rejected with %s, naming the source and never the password', (url, code) => {
    // from the environment or a file: a configuration error (78); from a flag: a usage error (64), like every bad flag value
    for (const [source, exitCode, prefix] of [['DATABASE_URL', ExitCode.CONFIG, 'config.'], ['--database-url', ExitCode.USAGE, 'usage.']] as const) {
      let err: AxisorError | undefined;
      try {
        parseDatabaseUrl(url, source);
      } catch (e) {
        err = e as AxisorError;
      }
      expect(err?.code).toBe(code.replace('config.', prefix));
      expect(err?.exitCode).toBe(exitCode);
      expect(`${err?.message} ${err?.hint}`).toContain(source);
    }
  });
  test('query parameters host (socket), application_name and pgbouncer', () => {
    expect(parseDatabaseUrl('postgres:///axisor?host=/var/run/postgresql&application_name=x&pgbouncer=true', 'u')).toMatchObject({
      host: '/var/run/postgresql', database: 'axisor', applicationName: 'x', pgbouncer: true,
    });
  });
});

describe('resolveConfig precedence: flag > DATABASE_URL > PG* > file > defaults', () => {
  const dir = tempDir('axisor-cfg-file-');
  writeFileSync(join(dir, 'axisor-db.config.json'), JSON.stringify({
    host: 'filehost', port: 1111, database: 'filedb', user: 'fileuser', backupDir: 'bk', pool: { max: 7, min: 1 }, lockTimeout: '3s',
  }));

  test('defaults', () => {
    const c = resolveConfig({ cwd, env: {}, osUser: 'alice' });
    expect(c.connection).toMatchObject({ host: 'localhost', port: 5432, user: 'alice', database: 'alice', sslMode: 'prefer' });
    expect(c.pool).toEqual({ min: 0, max: 10, idleTimeoutMillis: 30000, connectionTimeoutMillis: 10000 });
    expect(c.backupDir).toBe(join(cwd, 'backups'));
    expect(Object.isFrozen(c) && Object.isFrozen(c.connection) && Object.isFrozen(c.pool)).toBe(true);
  });
  test('file beats defaults', () => {
    const c = resolveConfig({ cwd: dir, env: {} });
    expect(c.connection).toMatchObject({ host: 'filehost', port: 1111, database: 'filedb', user: 'fileuser' });
    expect(c.pool.max).toBe(7);
    expect(c.lockTimeoutMs).toBe(3000);
    expect(c.backupDir).toBe(join(dir, 'bk'));
    expect(c.sources['connection.host']).toBe('file');
  });
  test('PG* beats the file; DATABASE_URL beats PG*; fields the URL lacks fall through', () => {
    const env = { PGHOST: 'envhost', PGPORT: '2222', PGDATABASE: 'envdb', PGUSER: 'envuser' };
    expect(resolveConfig({ cwd: dir, env }).connection).toMatchObject({ host: 'envhost', port: 2222, database: 'envdb' });
    const c = resolveConfig({ cwd: dir, env: { ...env, DATABASE_URL: 'postgres://urluser@urlhost/urldb' } });
    expect(c.connection).toMatchObject({ host: 'urlhost', port: 2222, database: 'urldb', user: 'urluser' });
    expect(c.sources['connection.host']).toBe('env');
  });
  test('flags beat everything', () => {
    const c = resolveConfig({
      cwd: dir,
      env: { DATABASE_URL: 'postgres://urluser@urlhost/urldb', AXISOR_BACKUP_DIR: '/env/bk' },
      flags: { databaseUrl: 'postgres://flaguser@flaghost:3333/flagdb', port: '4444', backupDir: '/flag/bk', statementTimeout: '1500ms' },
    });
    expect(c.connection).toMatchObject({ host: 'flaghost', port: 4444, database: 'flagdb', user: 'flaguser' });
    expect(c.backupDir).toBe('/flag/bk');
    expect(c.statementTimeoutMs).toBe(1500);
    expect(c.sources['connection.port']).toBe('flag');
  });
  test('the password is not enumerable: JSON and inspect never show it', () => {
    const c = resolveConfig({ cwd, env: { DATABASE_URL: 'postgres://u:Sup3rS3cret!@h/db' } });
    expect(c.connection.password).toBe('Sup3rS3cret!');
    expect(JSON.stringify(c)).not.toContain('Sup3rS3cret');
    expect(inspect(c, { depth: 10 })).not.toContain('Sup3rS3cret');
    expect(c.connection.redactedUrl).toBe('postgres://u@h:5432/db');
    expect(redact('failed for postgres://u:Sup3rS3cret!@h/db and Sup3rS3cret!')).not.toContain('Sup3rS3cret');
  });
  test('verify-full without a CA file names the fix', () => {
    expect(codeOf(() => resolveConfig({ cwd, env: { PGSSLMODE: 'verify-full' } }))).toBe('config.ssl_ca');
    const c = resolveConfig({ cwd, env: { PGSSLMODE: 'verify-full', PGSSLROOTCERT: 'ca.pem' } });
    expect(c.connection.sslRootCert).toBe(join(cwd, 'ca.pem'));
  });
  test('port 6432 or pgbouncer=true marks a transaction pooler', () => {
    expect(resolveConfig({ cwd, env: { DATABASE_URL: 'postgres://u@h:6432/db' } }).connection.pgbouncer).toBe(true);
    expect(resolveConfig({ cwd, env: { DATABASE_URL: 'postgres://u@h/db?pgbouncer=true' } }).connection.pgbouncer).toBe(true);
  });
  test('bad config files are config errors naming the key', () => {
    const bad = tempDir('axisor-cfg-bad-');
    writeFileSync(join(bad, 'axisor-db.config.json'), JSON.stringify({ hots: 'x' }));
    expect(codeOf(() => resolveConfig({ cwd: bad, env: {} }))).toBe('config.file_key');
    writeFileSync(join(bad, 'axisor-db.config.json'), '{ nope');
    expect(codeOf(() => resolveConfig({ cwd: bad, env: {} }))).toBe('config.file_json');
    expect(codeOf(() => resolveConfig({ cwd, env: {}, flags: { config: 'missing.json' } }))).toBe('config.file_unreadable');
    expect(codeOf(() => resolveConfig({ cwd, env: { PGPORT: 'abc' } }))).toBe('config.integer');
  });
});

describe('parseDuration', () => {
  test.each([['500ms', 500], ['30s', 30000], ['2m', 120000], ['1h', 3600000], ['10', 10000], [1.5, 1500]])('%s', (v, ms) => {
    expect(parseDuration(v as string, '--x')).toBe(ms);
  });
  test('garbage is a config error naming the flag', () => {
    expect(() => parseDuration('soon', '--lock-timeout')).toThrow(/--lock-timeout/);
  });
});

describe('passwords with unencoded special characters (issue 15, items 6-7)', () => {
  const PW = 'Secr3tPassw0rd';
  test.each(['#1', '/1', '?1', '#/?1'])('a password ending in %j parses and is never echoed', (tail) => {
    for (const source of ['DATABASE_URL', '--database-url']) {
      const l = parseDatabaseUrl(`postgres://ops:${PW}${tail}@db.example:5432/axisor`, source);
      expect(l).toMatchObject({ user: 'ops', host: 'db.example', port: 5432, database: 'axisor', password: `${PW}${tail}` });
    }
  });
  test.each([
    `postgres://ops:${PW}#1@db.example:notaport/axisor`,
    `postgres://ops:${PW}/x@db.example:99999/axisor`,
    `postgres://ops:${PW}?x@[::1/axisor`,
  ])('errors in %s never show the password', (url) => {
    for (const via of ['env', 'flag', 'file'] as const) {
      let err: AxisorError | undefined;
      try {
        if (via === 'env') resolveConfig({ cwd, env: { DATABASE_URL: url } });
        else if (via === 'flag') resolveConfig({ cwd, env: {}, flags: { databaseUrl: url } });
        else {
          const d = tempDir('axisor-cfg-pw-');
          writeFileSync(join(d, 'axisor-db.config.json'), JSON.stringify({ databaseUrl: url }));
          resolveConfig({ cwd: d, env: {} });
        }
      } catch (e) {
        err = e as AxisorError;
      }
      expect(err?.exitCode).toBe(via === 'flag' ? ExitCode.USAGE : ExitCode.CONFIG);
      expect(JSON.stringify(err?.toJSON())).not.toContain(PW.slice(0, 8));
      expect(redact(`${err?.message}`)).not.toContain(PW);
    }
  });
  test('host:port/db with an @ in a query parameter is not mistaken for a password', () => {
    expect(parseDatabaseUrl('postgres://h:5433/db?application_name=a@b', 'x')).toMatchObject({ host: 'h', port: 5433, database: 'db', applicationName: 'a@b' });
    expect(parseDatabaseUrl('postgres://u@h/db?application_name=a@b', 'x')).toMatchObject({ user: 'u', host: 'h', database: 'db' });
  });
  test('a password from DATABASE_URL is not sent to another server or user given by --database-url, --host or --user', () => {
    const env = { DATABASE_URL: 'postgres://ops:EnvPassw0rd@db1:5432/axisor' };
    const other = resolveConfig({ cwd, env, flags: { databaseUrl: 'postgres://intruder@evil.example/axisor' } });
    expect(other.connection.host).toBe('evil.example');
    expect(other.connection.password).toBeUndefined();
    expect(other.notes?.join(' ')).toMatch(/password in DATABASE_URL is not sent/);
    expect(other.notes?.join(' ')).not.toContain('EnvPassw0rd');
    expect(resolveConfig({ cwd, env, flags: { host: 'db2' } }).connection.password).toBeUndefined();
    expect(resolveConfig({ cwd, env, flags: { user: 'admin' } }).connection.password).toBeUndefined();
    // the same server and user (another database on it) keeps it; so does the URL's own password
    expect(resolveConfig({ cwd, env, flags: { dbname: 'other' } }).connection.password).toBe('EnvPassw0rd');
    expect(resolveConfig({ cwd, env, flags: { databaseUrl: 'postgres://ops@db1/axisor2' } }).connection.password).toBe('EnvPassw0rd');
    expect(resolveConfig({ cwd, env, flags: { databaseUrl: 'postgres://x:FlagPw@db2/y' } }).connection.password).toBe('FlagPw');
    // PGPASSWORD is libpq's "for whatever I connect to" and keeps that meaning
    expect(resolveConfig({ cwd, env: { PGPASSWORD: 'pgpw' }, flags: { databaseUrl: 'postgres://x@db2/y' } }).connection.password).toBe('pgpw');
    expect(resolveConfig({ cwd, env: { ...env, PGPASSWORD: 'pgpw' }, flags: { databaseUrl: 'postgres://x@db2/y' } }).connection.password).toBe('pgpw');
  });
});

describe('nothing configured; file values (issue 15 item 8, issue 12 item 5)', () => {
  test('no connection settings at all: libpq defaults, with a note naming the database', () => {
    const c = resolveConfig({ cwd, env: {}, osUser: 'root' });
    expect(c.connection).toMatchObject({ host: 'localhost', port: 5432, user: 'root', database: 'root' });
    expect(c.notes).toEqual([expect.stringMatching(/no connection settings given .*database "root" at localhost:5432 as root/)]);
    expect(resolveConfig({ cwd, env: { PGDATABASE: 'axisor' } }).notes).toEqual([]);
  });
  test.each([
    [{ port: 'notanumber' }, /port must be a number/],
    [{ port: 0 }, /port must be a number/],
    [{ host: 5 }, /host must be a non-empty string/],
    [{ pool: 3 }, /pool must be an object/],
    [{ lockTimeout: true }, /lockTimeout must be a duration/],
  ])('config file %j is a config error (78) naming the key', (data, message) => {
    const d = tempDir('axisor-cfg-val-');
    writeFileSync(join(d, 'axisor-db.config.json'), JSON.stringify(data));
    let err: AxisorError | undefined;
    try {
      resolveConfig({ cwd: d, env: {} });
    } catch (e) {
      err = e as AxisorError;
    }
    expect(err?.code).toBe('config.file_value');
    expect(err?.exitCode).toBe(ExitCode.CONFIG);
    expect(err?.message).toMatch(message);
  });
});

describe('backup location and encryption key in the configuration', () => {
  test('an s3:// backup directory stays a URL (not made absolute); the file\'s s3 settings and key file are kept', () => {
    const dir = tempDir('axisor-cfg-s3-');
    writeFileSync(join(dir, 'axisor-db.config.json'), JSON.stringify({ backupDir: 's3://axisor-backups/prod', s3: { region: 'eu-west-1', forcePathStyle: true }, encryptionKeyFile: 'keys/backup.key' }));
    const c = resolveConfig({ cwd: dir, env: {} });
    expect(c.backupDir).toBe('s3://axisor-backups/prod/');
    expect(c.backupLocation).toEqual({ kind: 's3', bucket: 'axisor-backups', prefix: 'prod/', url: 's3://axisor-backups/prod/' });
    expect(c.s3File).toEqual({ region: 'eu-west-1', forcePathStyle: true });
    expect(c.encryptionKeyFile).toBe(join(dir, 'keys/backup.key'));
    // flag > AXISOR_BACKUP_KEY_FILE > file; a local directory is made absolute as before.
    expect(resolveConfig({ cwd: dir, env: { AXISOR_BACKUP_KEY_FILE: '/etc/k' } }).encryptionKeyFile).toBe('/etc/k');
    expect(resolveConfig({ cwd: dir, env: { AXISOR_BACKUP_KEY_FILE: '/etc/k' }, flags: { encryptionKeyFile: 'flag.key' } }).encryptionKeyFile).toBe(join(dir, 'flag.key'));
    expect(resolveConfig({ cwd: dir, env: {}, flags: { backupDir: 'bk' } }).backupLocation).toEqual({ kind: 'local', dir: join(dir, 'bk') });
  });

  test('a bad s3:// URL or s3 value is a configuration error (78)', () => {
    expect(codeOf(() => resolveConfig({ cwd, env: { AXISOR_BACKUP_DIR: 's3://No_Such/x' } }))).toBe('config.s3_bucket');
    expect(codeOf(() => resolveConfig({ cwd, env: { AXISOR_BACKUP_DIR: 'gs://bucket/x' } }))).toBe('config.backup_dir_scheme');
    const dir = tempDir('axisor-cfg-s3bad-');
    writeFileSync(join(dir, 'axisor-db.config.json'), JSON.stringify({ s3: 'eu-west-1' }));
    expect(codeOf(() => resolveConfig({ cwd: dir, env: {} }))).toBe('config.file_value');
  });
});
