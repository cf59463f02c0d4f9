import { createHash } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { dataChecksum, DATA_MIGRATIONS, sortDataMigrations } from '../../src/migrate/data/registry.ts';
import type { DataMigration } from '../../src/migrate/data/types.ts';
import { checksumMatches, checksumOf } from '../../src/migrate/files.ts';
import { formatFailureLogs, type PrismaMigrationRow } from '../../src/migrate/prisma-history.ts';
import { classifySchemaMigrations, type SchemaMigrationStatus } from '../../src/migrate/schema-status.ts';
import type { DataMigrationStatus } from '../../src/migrate/data/run.ts';
import { needsNoTransaction, parseStatements } from '../../src/migrate/sql-parse.ts';
import { statusBits, STATUS_BITS } from '../../src/migrate/status.ts';

const file = (name: string, sql: string) => ({ name, path: `/m/${name}/migration.sql`, sql, checksum: checksumOf(sql) });
const row = (name: string, sql: string, over: Partial<PrismaMigrationRow> = {}): PrismaMigrationRow => ({
  id: '00000000-0000-4000-8000-000000000000', checksum: checksumOf(sql), finished_at: '2025-01-01T00:00:01Z', migration_name: name,
  logs: null, rolled_back_at: null, started_at: '2025-01-01T00:00:00Z', applied_steps_count: 1, ...over,
});

describe('checksums (Prisma format)', () => {
  test('sha256 of the bytes as lowercase 64-char hex, same as sha256sum', () => {
    const sql = 'CREATE TABLE "a" ("id" INTEGER);\n';
    expect(checksumOf(sql)).toBe(createHash('sha256').update(Buffer.from(sql)).digest('hex'));
    expect(checksumOf(sql)).toMatch(/^[0-9a-f]{64}$/);
  });
  test('a CRLF checkout of an LF-recorded file still matches (and the other way round)', () => {
    const lf = 'CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n';
    const crlf = lf.replace(/\n/g, '\r\n');
    expect(checksumMatches(checksumOf(lf), file('x', crlf))).toBe(true);
    expect(checksumMatches(checksumOf(crlf), file('x', lf))).toBe(true);
    expect(checksumMatches(checksumOf(lf), file('x', `${lf}-- edited\n`))).toBe(false);
  });
  test("pre-2.24 Prisma rows (hex without zero padding) still match", () => {
    // Find a script whose digest has a byte below 0x10, so the legacy form really is shorter.
    let sql = '';
    let legacy = '';
    for (let i = 0; legacy.length === 0 || legacy.length === 64; i++) {
      sql = `SELECT ${i};\n`;
      legacy = [...createHash('sha256').update(sql).digest()].map((b) => b.toString(16)).join('');
    }
    expect(legacy.length).toBeLessThan(64);
    expect(checksumMatches(legacy, file('x', sql))).toBe(true);
    expect(checksumMatches(legacy, file('x', `${sql} `))).toBe(false);
  });
});

describe('schema migration states', () => {
  const a = file('20250101_a', 'CREATE TABLE a (id int);');
  const b = file('20250102_b', 'CREATE TABLE b (id int);');
  test('applied, pending, modified, failed, running, missing', () => {
    expect(classifySchemaMigrations([a, b], [row(a.name, a.sql)], false).map((s) => s.state)).toEqual(['applied', 'pending']);
    expect(classifySchemaMigrations([a], [row(a.name, 'CREATE TABLE a (id bigint);')], false)[0]!.state).toBe('modified');
    const failed = row(b.name, b.sql, { finished_at: null, applied_steps_count: 0, logs: 'ERROR: boom' });
    expect(classifySchemaMigrations([a, b], [row(a.name, a.sql), failed], false)[1]!.state).toBe('failed');
    expect(classifySchemaMigrations([a, b], [row(a.name, a.sql), failed], true)[1]!.state).toBe('running');
    expect(classifySchemaMigrations([b], [row(a.name, a.sql), row(b.name, b.sql)], false).map((s) => [s.name, s.state])).toEqual([[b.name, 'applied'], [a.name, 'missing']]);
  });
  test('a rolled-back attempt is pending again; a later success after it counts as applied', () => {
    const rolled = row(b.name, b.sql, { finished_at: null, rolled_back_at: '2025-01-02T00:00:00Z' });
    expect(classifySchemaMigrations([b], [rolled], false)[0]!.state).toBe('pending');
    expect(classifySchemaMigrations([b], [rolled, row(b.name, b.sql)], false)[0]!.state).toBe('applied');
  });
  test('status bitmap: 1 pending schema, 2 pending data, 4 failed, 8 modified', () => {
    const s = (state: SchemaMigrationStatus['state']) => ({ name: 'x', state, checksum: null, startedAt: null, finishedAt: null });
    const d = (state: DataMigrationStatus['state']) => ({ version: 1, name: 'x', state, checksum: '', finishedAt: null, durationMs: null, rowsChanged: null });
    expect(statusBits([s('applied')], [d('applied')])).toBe(0);
    expect(statusBits([s('pending')], [d('applied')])).toBe(STATUS_BITS.PENDING_SCHEMA);
    expect(statusBits([s('applied')], [d('pending')])).toBe(2);
    expect(statusBits([s('failed'), s('modified')], [d('pending')])).toBe(4 | 8 | 2);
    expect(statusBits([s('applied')], [d('modified')])).toBe(8);
  });
  test('failure logs follow the layout Prisma writes', () => {
    const logs = formatFailureLogs('20250102_b', { code: '42P01', message: 'relation "x" does not exist', position: '15' }, 'SELECT 1;\nSELECT * FROM x;');
    expect(logs).toContain('Migration name: 20250102_b');
    expect(logs).toContain('Database error code: 42P01');
    expect(logs).toContain('Database error:\nERROR: relation "x" does not exist');
    expect(logs).toContain('  2 SELECT * FROM x;');
  });
});

describe('statement splitting with the PostgreSQL parser', () => {
  test('lines, comments and dollar quotes are handled; CONCURRENTLY is detected', async () => {
    const sql = "-- head\nCREATE TABLE t (v text);\n\n-- note: a ; inside\nDO $$ BEGIN RAISE NOTICE 'a;b'; END $$;\n/* block */ CREATE INDEX CONCURRENTLY i ON t (v);\n";
    const stmts = await parseStatements(sql);
    expect(stmts.map((s) => [s.kind, s.line])).toEqual([['CreateStmt', 2], ['DoStmt', 5], ['IndexStmt', 6]]);
    expect(stmts[1]!.leadingComments).toEqual(['note: a ; inside']);
    expect(stmts[2]!.text).toBe('CREATE INDEX CONCURRENTLY i ON t (v)');
    expect(needsNoTransaction(stmts)).toBe(true);
    expect(needsNoTransaction(stmts.slice(0, 2))).toBe(false);
  });
  test('multi-byte text before a statement does not shift it (locations are byte offsets)', async () => {
    const stmts = await parseStatements("INSERT INTO t VALUES ('ação €');\nSELECT 2;");
    expect(stmts[1]!.text).toBe('SELECT 2');
    expect(stmts[1]!.line).toBe(2);
  });
});

describe('data migration registry', () => {
  const m = (version: number): DataMigration => ({ ...DATA_MIGRATIONS[0]!, version, name: `m${version}` });
  test('versions sort numerically (10 after 9), not as strings', () => {
    expect(sortDataMigrations([m(10), m(9), m(2)]).map((x) => x.version)).toEqual([2, 9, 10]);
  });
  test('duplicate or non-positive versions are rejected', () => {
    expect(() => sortDataMigrations([m(3), m(3)])).toThrow(/version 3/);
    expect(() => sortDataMigrations([m(0)])).toThrow(/positive/);
  });
  test('the design document three, in order, with stable distinct checksums', () => {
    expect(DATA_MIGRATIONS.map((x) => [x.version, x.name])).toEqual([
      [1, 'migrate_user_preferences'], [2, 'migrate_automation_conditions'], [3, 'migrate_notification_templates'],
    ]);
    const sums = DATA_MIGRATIONS.map(dataChecksum);
    expect(new Set(sums).size).toBe(3);
    expect(sums.every((s) => /^[0-9a-f]{64}$/.test(s))).toBe(true);
  });
});
