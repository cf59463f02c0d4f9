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
    let err: AxisorError | undefined;
    try {
      parseDatabaseUrl(url, '--database-url');
    } catch (e) {
      err = e as AxisorError;
    }
    expect(err?.code).toBe(code);
    expect(err?.exitCode).toBe(ExitCode.CONFIG);
    expect(`${err?.message} ${err?.hint}`).toContain('--database-url');
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
