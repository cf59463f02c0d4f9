import { describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { candidateDirs, parseToolVersion } from '../../src/pgtools/find.ts';
import { libpqEnv } from '../../src/pgtools/run.ts';
import { columnList, quoteIdent, qualifiedName, quoteLiteral } from '../../src/db/ident.ts';
import { connectionFor } from '../helpers/db.ts';

describe('parseToolVersion', () => {
  test.each([
    ['pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)', 15, '15.20'],
    ['pg_restore (PostgreSQL) 17.2', 17, '17.2'],
    ['psql (PostgreSQL) 9.6.24', 9, '9.6'],
    ['pg_dump (PostgreSQL) 18beta1', 18, '18'],
  ])('%s', (out, major, version) => {
    expect(parseToolVersion(out)).toEqual({ major, version });
  });
  test('unrelated output', () => expect(parseToolVersion('zstd v1.5')).toBeNull());
});

test('candidate dirs: PG_BIN, then PATH, then installed versions newest first', () => {
  const root = mkdtempSync(join(tmpdir(), 'axisor-pgroot-'));
  for (const v of ['13', '16', '9.6']) mkdirSync(join(root, v, 'bin'), { recursive: true });
  try {
    expect(candidateDirs({ PG_BIN: '/opt/pg/bin', PATH: '/a:/b' }, [root])).toEqual([
      '/opt/pg/bin', '/a', '/b', join(root, '16', 'bin'), join(root, '13', 'bin'), join(root, '9.6', 'bin'),
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('libpq env for children carries no password', () => {
  const env = libpqEnv(connectionFor('postgres://u:hunter2@db:5433/x'));
  expect(env).toMatchObject({ PGHOST: 'db', PGPORT: '5433', PGUSER: 'u', PGDATABASE: 'x' });
  expect(JSON.stringify(env)).not.toContain('hunter2');
});

test('identifier and literal quoting', () => {
  expect(quoteIdent('TradeLog')).toBe('"TradeLog"');
  expect(quoteIdent('we"ird name')).toBe('"we""ird name"');
  expect(qualifiedName('my schema', 'T')).toBe('"my schema"."T"');
  expect(columnList(['id', 'we"ird', 'Col'])).toBe('"id", "we""ird", "Col"');
  expect(() => columnList(['id', ''])).toThrow();
  expect(quoteLiteral("it's")).toBe("'it''s'");
  expect(() => quoteIdent('')).toThrow();
});
