import { createHash } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { ExitCode } from '../../src/errors.ts';
import { runCli } from '../helpers/cli.ts';
import type { LintResult, MigrateStatusResult, MigrateUpResult, ResolveResult } from '../helpers/results.ts';
import { query } from '../helpers/db.ts';
import { migrationSandboxes } from '../helpers/migrations.ts';

const sandbox = migrationSandboxes();

async function setup(prefix: string, ...sets: string[]) {
  const { db, m } = await sandbox(prefix, ...sets);
  /** migrate <args>; R types the --json result (migrate/up by default). */
  const cli = <R = MigrateUpResult>(...args: string[]) => runCli<R>(['migrate', ...args, '--database-url', db.url, '--migrations-dir', m.dir]);
  return { db, m, cli };
}

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('fresh database: apply, re-run, status, drift', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    t = await setup('mig_fresh', 'extra');
  });

  test('status before: pending schema and data (1|2)', async () => {
    const r = await t.cli<MigrateStatusResult>('status', '--json');
    expect(r.exitCode).toBe(3);
    expect(r.json.result.flags).toEqual(['PENDING_SCHEMA', 'PENDING_DATA']);
  });

  test('migrate applies everything, a second run applies nothing, status exits 0', async () => {
    const first = await t.cli('up', '--json');
    expect(first.exitCode).toBe(0);
    expect(first.json.result.schemaMigrations.applied.map((a) => a.name)).toEqual(['20250126000000_init', '20300101000000_items', '20300102000000_items_index']);
    expect(first.json.result.dataMigrations.applied.map((a) => a.version)).toEqual([1, 2, 3]);
    const second = await t.cli('--json');
    expect(second.exitCode).toBe(0);
    expect(second.json.result.schemaMigrations.applied).toEqual([]);
    expect(second.json.result.dataMigrations.applied).toEqual([]);
    const status = await t.cli('status');
    expect(status.exitCode).toBe(0);
  });

  test('_prisma_migrations has exactly the table and row shape Prisma writes', async () => {
    const cols = await query(t.db.url, `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
      FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`);
    expect(cols.map((c) => [c.column_name, c.data_type, c.len, c.is_nullable, c.column_default])).toEqual([
      ['id', 'character varying', 36, 'NO', null],
      ['checksum', 'character varying', 64, 'NO', null],
      ['finished_at', 'timestamp with time zone', null, 'YES', null],
      ['migration_name', 'character varying', 255, 'NO', null],
      ['logs', 'text', null, 'YES', null],
      ['rolled_back_at', 'timestamp with time zone', null, 'YES', null],
      ['started_at', 'timestamp with time zone', null, 'NO', 'now()'],
      ['applied_steps_count', 'integer', null, 'NO', '0'],
    ]);
    const pk = await query(t.db.url, `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = '_prisma_migrations'::regclass AND i.indisprimary`);
    expect(pk.map((p) => p.attname)).toEqual(['id']);
    const rows = await query(t.db.url, 'SELECT * FROM _prisma_migrations ORDER BY started_at');
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.checksum).toBe(await sha256(join(t.m.dir, r.migration_name, 'migration.sql')));
      expect(r.logs).toBeNull();
      expect(r.rolled_back_at).toBeNull();
      expect(r.applied_steps_count).toBe(1);
      expect(r.finished_at.getTime()).toBeGreaterThanOrEqual(r.started_at.getTime());
    }
  });

  test('a new migration folder makes status report pending schema (bit 1) only', async () => {
    await t.m.add('next');
    const r = await t.cli<MigrateStatusResult>('status', '--json');
    expect(r.exitCode).toBe(1);
    expect(r.json.result.schemaMigrations.find((s) => s.name === '20300106000000_add_price')!.state).toBe('pending');
    const dry = await t.cli('--dry-run', '--json');
    expect(dry.exitCode).toBe(0);
    expect(dry.json.result.schemaMigrations.planned.map((p) => p.name)).toEqual(['20300106000000_add_price']);
    expect(await query(t.db.url, `SELECT 1 FROM information_schema.columns WHERE table_name = 'Item' AND column_name = 'price'`)).toEqual([]);
    expect((await t.cli()).exitCode).toBe(0);
    expect((await t.cli('status')).exitCode).toBe(0);
  });

  test('editing an applied file: status bit 8, migrate refuses (77) unless --allow-modified; CRLF alone is not drift', async () => {
    const path = join(t.m.dir, '20300101000000_items', 'migration.sql');
    const original = await readFile(path, 'utf8');
    await writeFile(path, original.replace(/\n/g, '\r\n'));
    expect((await t.cli('status')).exitCode).toBe(0);
    await appendFile(path, '-- edited after it was applied\r\n');
    const status = await t.cli<MigrateStatusResult>('status', '--json');
    expect(status.exitCode).toBe(8);
    expect(status.json.result.schemaMigrations.find((s) => s.name === '20300101000000_items')!.state).toBe('modified');
    const refused = await t.cli('--json');
    expect(refused.exitCode).toBe(ExitCode.REFUSED);
    expect(refused.json.error.code).toBe('refused.modified');
    const allowed = await t.cli('--allow-modified');
    expect(allowed.exitCode).toBe(0);
    expect(allowed.stderr).toContain('--allow-modified');
    await writeFile(path, original);
    expect((await t.cli('status')).exitCode).toBe(0);
  });
});

describe('a migration that fails halfway', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    t = await setup('mig_fail', 'extra', 'broken');
  });

  test('leaves no partial schema, is recorded as failed the way Prisma records it, and blocks the next run', async () => {
    const r = await t.cli('--json');
    expect(r.exitCode).toBe(ExitCode.DATABASE);
    expect(r.json.error.code).toBe('database.42P01');
    expect(r.json.error.hint).toContain('migrate resolve --rolled-back 20300103000000_broken');
    expect(await query(t.db.url, `SELECT to_regclass('"Partial"') AS t`)).toEqual([{ t: null }]);
    const [row] = await query(t.db.url, `SELECT * FROM _prisma_migrations WHERE migration_name = '20300103000000_broken'`);
    expect(row!.finished_at).toBeNull();
    expect(row!.rolled_back_at).toBeNull();
    expect(row!.applied_steps_count).toBe(0);
    expect(row!.logs).toContain('Database error code: 42P01');
    // Earlier migrations of the same run stay applied; data migrations did not run.
    expect(await query(t.db.url, `SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL`)).toEqual([{ n: 3 }]);
    expect(await query(t.db.url, `SELECT to_regclass('axisor_data_migrations') AS t`)).toEqual([{ t: null }]);

    const status = await t.cli<MigrateStatusResult>('status', '--json');
    expect(status.exitCode).toBe(4 | 2);
    const again = await t.cli('--json');
    expect(again.exitCode).toBe(ExitCode.REFUSED);
    expect(again.json.error.code).toBe('refused.failed_migration');
    expect(again.stderr).toContain('axisor-db migrate resolve --rolled-back 20300103000000_broken');
  });

  test('resolve --rolled-back, fix the file, migrate applies it', async () => {
    expect((await t.cli('resolve', '--applied', '20300103000000_broken', '--rolled-back', '20300103000000_broken')).exitCode).toBe(ExitCode.USAGE);
    const res = await t.cli<ResolveResult>('resolve', '--rolled-back', '20300103000000_broken', '--json');
    expect(res.exitCode).toBe(0);
    expect(res.json.result.rolledBack).toHaveLength(1);
    expect((await t.cli('resolve', '--rolled-back', '20300103000000_broken', '--json')).json.error.code).toBe('refused.not_failed');
    expect((await t.cli('status')).exitCode).toBe(1 | 2);
    const path = join(t.m.dir, '20300103000000_broken', 'migration.sql');
    await writeFile(path, (await readFile(path, 'utf8')).replace('"NoSuchTable"', '"Partial"'));
    const r = await t.cli('--json');
    expect(r.exitCode).toBe(0);
    expect(r.json.result.schemaMigrations.applied.map((a) => a.name)).toEqual(['20300103000000_broken']);
    const rows = await query(t.db.url, `SELECT rolled_back_at IS NOT NULL AS rolled, finished_at IS NOT NULL AS done FROM _prisma_migrations WHERE migration_name = '20300103000000_broken' ORDER BY started_at`);
    expect(rows).toEqual([{ rolled: true, done: false }, { rolled: false, done: true }]);
    expect((await t.cli('status')).exitCode).toBe(0);
  });

  test('resolve --applied records what Prisma records (logs empty, started_at = finished_at); unknown names are 66', async () => {
    await t.m.add('next');
    const r = await t.cli('resolve', '--applied', '20300106000000_add_price', '--json');
    expect(r.exitCode).toBe(0);
    const [row] = await query(t.db.url, `SELECT * FROM _prisma_migrations WHERE migration_name = '20300106000000_add_price'`);
    expect(row!.logs).toBe('');
    expect(row!.started_at.getTime()).toBe(row!.finished_at.getTime());
    expect(row!.applied_steps_count).toBe(0);
    expect(row!.checksum).toBe(await sha256(join(t.m.dir, '20300106000000_add_price', 'migration.sql')));
    expect((await t.cli('status')).exitCode).toBe(0);
    expect((await t.cli('resolve', '--applied', '20300106000000_add_price', '--json')).json.error.code).toBe('refused.already_applied');
    expect((await t.cli('resolve', '--applied', 'nope')).exitCode).toBe(ExitCode.NOT_FOUND);
  });
});

describe('CREATE INDEX CONCURRENTLY, non-empty schemas, linting pending migrations', () => {
  test('a file with CREATE INDEX CONCURRENTLY runs outside a transaction and builds a valid index', async () => {
    const t = await setup('mig_cic', 'extra', 'concurrent');
    const r = await t.cli('--json');
    expect(r.exitCode).toBe(0);
    const cic = r.json.result.schemaMigrations.applied.find((a) => a.name === '20300104000000_cic');
    expect([cic!.transactional, cic!.statements]).toEqual([false, 2]);
    expect(await query(t.db.url, `SELECT indisvalid FROM pg_index WHERE indexrelid = '"Item_sku_idx"'::regclass`)).toEqual([{ indisvalid: true }]);
  });

  test('a schema with tables but no history is refused (Prisma P3005) and can be baselined with resolve --applied', async () => {
    const t = await setup('mig_baseline');
    await query(t.db.url, await readFile(join(t.m.dir, '20250126000000_init', 'migration.sql'), 'utf8'));
    const r = await t.cli('--json');
    expect(r.exitCode).toBe(ExitCode.REFUSED);
    expect(r.json.error.code).toBe('refused.schema_not_empty');
    expect(r.json.error.hint).toContain('migrate resolve --applied 20250126000000_init');
    expect((await t.cli('resolve', '--applied', '20250126000000_init')).exitCode).toBe(0);
    const up = await t.cli('--json');
    expect(up.exitCode).toBe(0);
    expect(up.json.result.schemaMigrations.applied).toEqual([]);
    expect(up.json.result.dataMigrations.applied).toHaveLength(3);
  });

  test('lint with no files checks only the pending migrations, against the live catalog', async () => {
    const t = await setup('mig_lint', 'extra');
    expect((await t.cli()).exitCode).toBe(0);
    const dir = join(t.m.dir, '20300107000000_dangerous');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, 'migration.sql'), 'CREATE INDEX "Item_name2_idx" ON "Item"("name");\nALTER TABLE "Item" DROP COLUMN "name";\n');
    const r = await t.cli<LintResult>('lint', '--json');
    expect(r.exitCode).toBe(2);
    expect(r.json.result.files).toHaveLength(1);
    expect(r.json.result.findings.map((f) => [f.rule, f.line])).toEqual([['create-index-non-concurrent', 1], ['drop-column', 2]]);
  });
});
