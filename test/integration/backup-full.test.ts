import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { urlWithDatabase, ADMIN_URL, type TestDatabase } from '../helpers/db.ts';
import { cli, contentFingerprint, normalizedSchema, pgTool, q, createBackupSource, removeBackupTestLeftovers, restoreTargets } from '../helpers/backup.ts';
import type { BackupResult, ListResult, Manifest, RestoreResult, VerifyResult } from '../helpers/results.ts';

// Full and schema-only backups against the local server (no special settings needed).
let src: TestDatabase;
let dir: string;
const { created, target } = restoreTargets('bkr');

beforeAll(async () => {
  ({ src, dir } = await createBackupSource('bkfull'));
});

afterAll(() => removeBackupTestLeftovers({ created, src, dirs: [dir] }));

describe('full backup', () => {
  let id: string;

  beforeAll(async () => {
    const r = await cli<BackupResult>(['backup', '--type', 'full', '--jobs', '2'], src.url, dir);
    // Only warnings: whether this full backup can start an incremental chain depends on the server's settings.
    expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('warning:'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    id = r.json.result.id;
    expect(r.json.result.type).toBe('full');
  });

  test('is private: 0700 directories, 0600 files, and listed with a manifest', async () => {
    const bdir = join(dir, id);
    expect(statSync(bdir).mode & 0o777).toBe(0o700);
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(d, e.name), ...walk(join(d, e.name))] : [join(d, e.name)]));
    for (const p of walk(bdir)) expect(statSync(p).mode & 0o777).toBe(statSync(p).isDirectory() ? 0o700 : 0o600);
    const list = await cli<ListResult>(['backup', 'list'], src.url, dir);
    expect(list.json.result.backups.map((b) => b.id)).toEqual([id]);
    const show = await cli<Manifest>(['backup', 'show', id], src.url, dir);
    expect(show.json.result.tables.find((t) => t.name === 'TradeLog')!.rows).toBe(3000);
    expect(show.json.result.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
  });

  test('restores into a new database with identical schema, rows and content, and pg_amcheck passes', async () => {
    const name = target('full');
    const r = await cli<RestoreResult>(['restore', id, '--target-db', name], src.url, dir);
    expect(r.exitCode).toBe(0);
    const url = urlWithDatabase(ADMIN_URL, name);
    expect(await normalizedSchema(url)).toBe(await normalizedSchema(src.url));
    expect(await contentFingerprint(url)).toEqual(await contentFingerprint(src.url));
    // Sequences continue after the restored ids.
    const [{ v }] = await q(url, `SELECT nextval('"TradeLog_id_seq"')::int AS v`);
    expect(v).toBeGreaterThan(3000);
    const check = await execa(await pgTool('pg_amcheck'), ['--heapallindexed', '--install-missing', url], { reject: false });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.exitCode).toBe(0);
  });

  test('verify passes checksums and the restore drill, and drops its scratch database', async () => {
    const r = await cli<VerifyResult>(['backup', 'verify', id], src.url, dir);
    expect(r.exitCode).toBe(0);
    expect(r.json.result.drill.ok).toBe(true);
    expect(r.json.result.drill.tables.find((t) => t.name === 'TradeLog')).toMatchObject({ rows: 3000, contentMatches: true });
    const left = await q(ADMIN_URL, 'SELECT datname FROM pg_database WHERE datname = $1', [r.json.result.drill.database]);
    expect(left).toEqual([]);
  });

  test('refuses a non-empty target without --clean (77), replaces it with --clean', async () => {
    const name = target('clean');
    await q(ADMIN_URL, `CREATE DATABASE ${name}`);
    const url = urlWithDatabase(ADMIN_URL, name);
    await q(url, 'CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (1)');
    const refused = await cli(['restore', id, '--target-db', name], src.url, dir);
    expect(refused.exitCode).toBe(77);
    expect(await q(url, 'SELECT x FROM keepme')).toEqual([{ x: 1 }]);
    const ok = await cli(['restore', '--latest', '--target-db', name, '--clean'], src.url, dir);
    expect(ok.exitCode).toBe(0);
    expect(await contentFingerprint(url)).toEqual(await contentFingerprint(src.url));
  });

  test('--table restores only the chosen tables (and skips foreign keys to tables left out)', async () => {
    const name = target('table');
    const r = await cli<RestoreResult>(['restore', id, '--target-db', name, '--table', 'TradeLog', 'public.audit'], src.url, dir);
    expect(r.exitCode).toBe(0);
    expect(r.json.result.droppedForeignKeys).toBe(1);
    const url = urlWithDatabase(ADMIN_URL, name);
    const fp = await contentFingerprint(url);
    expect(Object.keys(fp).sort()).toEqual(['public.TradeLog', 'public.audit']);
    const full = await contentFingerprint(src.url);
    expect(fp['public.TradeLog']).toEqual(full['public.TradeLog']);
    const unknown = await cli(['restore', id, '--target-db', target('tx'), '--table', 'nope'], src.url, dir);
    expect(unknown.exitCode).toBe(66);
  });

  test('a flipped byte fails verify and restore with exit 65 before the target is touched', async () => {
    const copyDir = mkdtempSync(join(tmpdir(), 'axisor-bk-flip-'));
    try {
      await execa('cp', ['-a', join(dir, id), join(copyDir, id)]);
      const m = JSON.parse(readFileSync(join(copyDir, id, 'manifest.json'), 'utf8'));
      const victim = join(copyDir, id, m.files.find((f: { path: string; bytes: number }) => f.path.startsWith('data/') && f.bytes > 100).path);
      const buf = readFileSync(victim);
      buf[Math.floor(buf.length / 2)] ^= 0x01;
      writeFileSync(victim, buf);
      const v = await cli<VerifyResult>(['backup', 'verify', id], src.url, copyDir);
      expect(v.exitCode).toBe(65);
      expect(v.json.result.checksums.ok).toBe(false);
      const name = target('flip');
      await q(ADMIN_URL, `CREATE DATABASE ${name}`);
      const url = urlWithDatabase(ADMIN_URL, name);
      await q(url, 'CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (7)');
      const r = await cli<RestoreResult>(['restore', id, '--target-db', name, '--clean'], src.url, copyDir);
      expect(r.exitCode).toBe(65);
      expect(await q(url, 'SELECT x FROM keepme')).toEqual([{ x: 7 }]);
      const missing = await cli(['restore', id, '--target-db', target('flip2')], src.url, copyDir);
      expect(missing.exitCode).toBe(65);
      expect(await q(ADMIN_URL, 'SELECT 1 FROM pg_database WHERE datname = $1', [created[created.length - 1]])).toEqual([]);
    } finally {
      rmSync(copyDir, { recursive: true, force: true });
    }
  });
});

test('schema-only backup restores the same schema and no rows', async () => {
  const r = await cli<BackupResult>(['backup', '--type', 'schema-only'], src.url, dir);
  expect(r.exitCode).toBe(0);
  expect(r.json.result.rows).toBe(0);
  const name = target('schema');
  const rr = await cli(['restore', r.json.result.id, '--target-db', name], src.url, dir);
  expect(rr.exitCode).toBe(0);
  const url = urlWithDatabase(ADMIN_URL, name);
  expect(await normalizedSchema(url)).toBe(await normalizedSchema(src.url));
  const fp = await contentFingerprint(url);
  expect(Object.values(fp).every((t) => t.rows === 0)).toBe(true);
  expect(Object.keys(fp).length).toBe(3);
});

test('bad input: unknown id is 66, bad --type is 64; gzip backups verify', async () => {
  expect((await cli(['backup', 'show', '20200101T000000Z-full-abcd'], src.url, dir)).exitCode).toBe(66);
  expect((await cli(['backup', '--type', 'weekly'], src.url, dir)).exitCode).toBe(64);
  const b = await cli<BackupResult>(['backup', '--compress', 'gzip'], src.url, dir);
  expect(b.exitCode).toBe(0);
  const v = await cli<VerifyResult>(['backup', 'verify', b.json.result.id], src.url, dir);
  expect(v.json.result.ok).toBe(true);
  expect(v.json.result.drill.tables.every((t) => t.ok)).toBe(true);
});
