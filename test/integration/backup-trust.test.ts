import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { sha256Hex } from '../../src/archive/manifest.ts';
import { createAxisorSchema, seedSmall, withPg } from '../helpers/axisor-data.ts';
import { runCli, type Jsonified } from '../helpers/cli.ts';
import { createTestDatabase, urlWithDatabase, ADMIN_URL, type TestDatabase } from '../helpers/db.ts';
import { cli, contentFingerprint, q, createBackupSource, removeBackupTestLeftovers, restoreTargets } from '../helpers/backup.ts';
import type { BackupResult, FixReport, ListResult, Manifest, PruneResult, RestoreResult, UndoOutcome, ValidateReport, VerifyResult } from '../helpers/results.ts';

// Issue 12: backups a DBA can trust blindly. Each test here failed on the main branch before this work.
let src: TestDatabase;
let dir: string;
const { created, target } = restoreTargets('bkt');
const dbExists = async (name: string) => (await q(ADMIN_URL, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;
const sideDatabases = async (prefix: string) => (await q<{ datname: string }>(ADMIN_URL, `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${prefix}%`])).map((r) => r.datname);

/** A backup's manifest.json as stored. */
function readManifest(bdir: string): Jsonified<Manifest> {
  return JSON.parse(readFileSync(join(bdir, 'manifest.json'), 'utf8')) as Jsonified<Manifest>;
}

/** Rewrites a copied backup's manifest (and its checksum) as a hostile or damaged one would be. */
function rewriteManifest(bdir: string, edit: (m: Jsonified<Manifest>) => void): void {
  const m = readManifest(bdir);
  edit(m);
  const text = `${JSON.stringify(m, null, 2)}\n`;
  writeFileSync(join(bdir, 'manifest.json'), text);
  writeFileSync(join(bdir, 'manifest.sha256'), `${sha256Hex(text)}  manifest.json\n`);
}

beforeAll(async () => {
  ({ src, dir } = await createBackupSource('bktrust'));
  // >= 100k rows churned the way a live table is: delete 20%, VACUUM (free space), insert into the holes, update.
  await q(src.url, `CREATE TABLE churn (id int PRIMARY KEY, v text NOT NULL, n numeric, t timestamptz)`);
  await q(src.url, `INSERT INTO churn SELECT g, md5(g::text), g / 3.0, timestamptz '2025-01-01' + g * interval '1 second' FROM generate_series(1, 120000) g`);
  await q(src.url, `DELETE FROM churn WHERE id % 5 = 0`);
  await q(src.url, `VACUUM churn`);
  await q(src.url, `INSERT INTO churn SELECT g, 'new ' || g, NULL, now() FROM generate_series(120001, 140000) g`);
  await q(src.url, `UPDATE churn SET v = v || '!' WHERE id % 7 = 0`);
});

afterAll(() => removeBackupTestLeftovers({ created, src, dirs: [dir] }));

describe('verify compares content whatever the physical row order', () => {
  let id: string;
  beforeAll(async () => {
    const r = await cli<BackupResult>(['backup', '--no-chain', '--jobs', '2'], src.url, dir);
    expect(r.exitCode).toBe(0);
    id = r.json.result.id;
  });

  test('a churned 116k-row table and the rest verify clean (exit 0), and verify says what it compared', async () => {
    const v = await cli<VerifyResult>(['backup', 'verify', id], src.url, dir);
    expect(v.json.result.drill.tables.filter((t) => t.content !== 'identical')).toEqual([]);
    expect(v.exitCode).toBe(0);
    expect(v.json.ok).toBe(true);
    expect(v.json.result.drill.tables.find((t) => t.name === 'churn')).toMatchObject({ rows: 116000, content: 'identical', contentMatches: true });
    expect(v.json.result.drill.compared).toMatchObject({ rowCounts: 4, content: 4, method: 'rowsum64-v1', contentAsOf: id });
  });

  test('one changed value in a correctly checksummed backup is caught (65), and the JSON envelope says ok: false', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'axisor-bk-trust-tamper-'));
    try {
      cpSync(join(dir, id), join(copy, id), { recursive: true });
      const bdir = join(copy, id);
      const m = readManifest(bdir);
      const chunk = m.tables.find((t) => t.name === 'churn')!.chunks[0]!;
      const file = join(bdir, chunk.file);
      // The table is COPY binary (every column type is portable): v of row 4 is md5('4'), stored as its 32 bytes.
      expect(m.tables.find((t) => t.name === 'churn')!.copyFormat).toBe('binary');
      const raw = (await execa('zstd', ['-dc', file], { encoding: 'buffer' })).stdout as Uint8Array;
      const data = Buffer.from(raw);
      const at = data.indexOf(createHash('md5').update('4').digest('hex'));
      expect(at).toBeGreaterThan(0);
      data[at + 31] = data[at + 31] === 0x30 ? 0x31 : 0x30;
      rmSync(file);
      await execa('zstd', ['-q', '-1', '-o', file], { input: data });
      const buf = readFileSync(file);
      rewriteManifest(bdir, (mm) => {
        const f = mm.files.find((x) => x.path === chunk.file)!;
        f.bytes = buf.length;
        f.sha256 = sha256Hex(buf);
      });
      const v = await cli<VerifyResult>(['backup', 'verify', id], src.url, copy);
      expect(v.json.result.checksums.ok).toBe(true);
      expect(v.json.result.drill.tables.filter((t) => t.content === 'differs').map((t) => t.name)).toEqual(['churn']);
      expect(v.exitCode).toBe(65);
      expect(v.json.ok).toBe(false);
      expect(v.json.exitCode).toBe(65);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
  test('a manifest written before row digests still verifies, by recomputing the digest from its checksummed files', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'axisor-bk-trust-old-'));
    try {
      cpSync(join(dir, id), join(copy, id), { recursive: true });
      rewriteManifest(join(copy, id), (mm) => {
        delete mm.rowDigestAlgorithm;
        for (const t of mm.tables) for (const c of t.chunks) (delete c.rowDigest, (c.contentSha256 = '0'.repeat(64)));
      });
      const v = await cli<VerifyResult>(['backup', 'verify', id], src.url, copy);
      expect(v.exitCode).toBe(0);
      expect(v.json.result.drill.tables.every((t) => t.content === 'identical')).toBe(true);
      expect(v.json.result.drill.compared!.method).toMatch(/recomputed from the backup files/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('schema-only backups are not restore points', () => {
  let full: string;
  let schema: string;
  const sdir = () => join(dir, 'schema-case');
  beforeAll(async () => {
    const f = await cli<BackupResult>(['backup', '--type', 'full', '--no-chain'], src.url, sdir());
    const s = await cli<BackupResult>(['backup', '--type', 'schema-only'], src.url, sdir());
    expect([f.exitCode, s.exitCode]).toEqual([0, 0]);
    full = f.json.result.id;
    schema = s.json.result.id;
  });

  test('prune --keep-last 1 --keep-daily 1 --keep-weekly 1 keeps the only full backup', async () => {
    const p = await cli<PruneResult>(['backup', 'prune', '--keep-last', '1', '--keep-daily', '1', '--keep-weekly', '1'], src.url, sdir());
    expect(p.exitCode).toBe(0);
    const kept = p.json.result.decisions.filter((d) => d.keep).map((d) => d.id);
    expect(kept).toEqual(expect.arrayContaining([full, schema]));
    const only = await cli<PruneResult>(['backup', 'prune', '--keep-last', '1', '--keep-schema-only', '0'], src.url, sdir());
    expect(only.json.result.decisions.filter((d) => !d.keep).map((d) => d.id)).toEqual([schema]);
  });

  test('restore --latest restores the full backup, not the newer schema-only one', async () => {
    // The prune above deleted the schema-only backup: take another, newer than the full.
    const s = await cli<BackupResult>(['backup', '--type', 'schema-only'], src.url, sdir());
    expect(s.exitCode).toBe(0);
    const name = target('latest');
    const r = await cli<RestoreResult>(['restore', '--latest', '--target-db', name], src.url, sdir());
    expect(r.exitCode).toBe(0);
    expect(r.json.result.id).toBe(full);
    expect(r.json.result.schemaOnly).toBe(false);
    expect((await contentFingerprint(urlWithDatabase(ADMIN_URL, name)))['public.churn']!.rows).toBe(116000);
  });

  test('restoring a schema-only backup by id says it restores no data (JSON and stderr)', async () => {
    const list = await cli<ListResult>(['backup', 'list'], src.url, sdir());
    const sid = list.json.result.backups.find((b) => b.type === 'schema-only')!.id;
    const name = target('schemaonly');
    const r = await cli<RestoreResult>(['restore', sid, '--target-db', name], src.url, sdir());
    expect(r.exitCode).toBe(0);
    expect(r.json.result).toMatchObject({ schemaOnly: true, rows: 0 });
    expect(r.json.result.warnings.join(' ')).toMatch(/schema-only.*NO rows/);
    expect(r.stderr).toMatch(/warning: .*schema-only.*NO rows/);
  });
});

describe('restore targets and cheap refusals', () => {
  let id: string;
  beforeAll(async () => {
    const list = await cli<ListResult>(['backup', 'list'], src.url, dir);
    id = list.json.result.backups.find((b) => b.type === 'full')!.id;
  });

  test('template1, template0, postgres and the connected database are refused (77) with nothing touched', async () => {
    const state = () => q(ADMIN_URL, `SELECT datname, datistemplate, datallowconn, shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname IN ('template0', 'template1', 'postgres', $1) ORDER BY 1`, [src.name]);
    const before = await state();
    expect(before).toHaveLength(4);
    for (const t of ['template1', 'template0', 'postgres']) {
      const r = await cli<RestoreResult>(['restore', id, '--target-db', t, '--clean'], src.url, dir);
      expect({ t, code: r.exitCode, err: r.json.error.code }).toEqual({ t, code: 77, err: 'refused.protected_target' });
    }
    const own = await cli(['restore', id, '--target-db', src.name, '--clean', '--maintenance-db', src.name], src.url, dir);
    expect(own.exitCode).toBe(77);
    expect(own.json.error.message).toMatch(/connected to/);
    expect(await state()).toEqual(before);
    expect(await sideDatabases('template1_')).toEqual([]);
    const [{ n }] = await q(urlWithDatabase(ADMIN_URL, 'template1'), `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'public'`);
    expect(n).toBe(0);
  });

  test('--clean with open sessions on the target is refused before any work (no side database, no checksum pass)', async () => {
    const name = target('busy');
    await q(ADMIN_URL, `CREATE DATABASE ${name}`);
    const url = urlWithDatabase(ADMIN_URL, name);
    await q(url, 'CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (3)');
    await withPg(url, async () => {
      const r = await cli<RestoreResult>(['restore', id, '--target-db', name, '--clean', '--verbose'], src.url, dir);
      expect(r.exitCode).toBe(77);
      expect(r.json.error.code).toBe('refused.target_busy');
      expect(r.json.error.message).toMatch(/1 open session/);
    });
    expect(await sideDatabases(`${name}_restore_`)).toEqual([]);
    expect(await q(url, 'SELECT x FROM keepme')).toEqual([{ x: 3 }]);
  });

  test('a backup directory that does not exist is "does not exist" (66) for restore --latest, list, prune and verify', async () => {
    const typo = join(dir, 'typo-does-not-exist');
    const r = await cli<RestoreResult>(['restore', '--latest', '--target-db', target('typo')], src.url, typo);
    expect(r.exitCode).toBe(66);
    expect(r.json.error.message).toMatch(/backup directory .*typo-does-not-exist does not exist/);
    expect((await cli(['backup', 'list'], src.url, typo)).exitCode).toBe(66);
    expect((await cli(['backup', 'prune', '--keep-last', '1'], src.url, typo)).exitCode).toBe(66);
    expect((await cli(['backup', 'verify', id], src.url, typo)).exitCode).toBe(66);
  });
});

describe('manifest paths are confined', () => {
  test('a chunk path outside the backup, or a chunk missing from files[], is 65 for restore and verify; nothing is loaded', async () => {
    const list = await cli<ListResult>(['backup', 'list'], src.url, dir);
    const id = list.json.result.backups.find((b) => b.type === 'full')!.id;
    const work = mkdtempSync(join(tmpdir(), 'axisor-bk-trust-evil-'));
    try {
      const root = join(work, 'backups');
      cpSync(join(dir, id), join(root, id), { recursive: true });
      const m = readManifest(join(root, id));
      const chunk = m.tables.find((t) => t.name === 'churn')!.chunks[0]!.file;
      // A file outside the backup with a matching files[] entry: formerly loaded.
      cpSync(join(root, id, chunk), join(work, 'evil.copy.zst'));
      rewriteManifest(join(root, id), (mm) => {
        const evil = '../../evil.copy.zst';
        mm.tables.find((t) => t.name === 'churn')!.chunks[0]!.file = evil;
        mm.files.find((f) => f.path === chunk)!.path = evil;
      });
      const name = target('evil');
      const r = await cli<RestoreResult>(['restore', id, '--target-db', name], src.url, root);
      expect(r.exitCode).toBe(65);
      expect(r.json.error.code).toBe('integrity.manifest_path');
      expect(await dbExists(name)).toBe(false);
      expect((await cli(['backup', 'verify', id], src.url, root)).exitCode).toBe(65);
      // A chunk that is not in files[] at all: formerly loaded without any check.
      rmSync(join(root, id), { recursive: true });
      cpSync(join(dir, id), join(root, id), { recursive: true });
      rewriteManifest(join(root, id), (mm) => {
        mm.files = mm.files.filter((f) => f.path !== chunk);
      });
      const r2 = await cli(['restore', id, '--target-db', name], src.url, root);
      expect(r2.exitCode).toBe(65);
      expect(r2.json.error.message).toMatch(/not listed/);
      expect(await dbExists(name)).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('data that violates its own foreign keys', () => {
  test('fix --undo says it re-created orphans; backup and restore complete with the FK NOT VALID; validate lists the rows', async () => {
    const db = await createTestDatabase('bktrust_fk');
    const fkDir = mkdtempSync(join(tmpdir(), 'axisor-bk-trust-fk-'));
    try {
      await createAxisorSchema(db.url);
      await seedSmall(db.url);
      await withPg(db.url, (c) => c.query(`SET session_replication_role = replica;
        INSERT INTO "TradeLog"(id, user_id, exchange_account_id, type, symbol, side, size, price, status, executed_at)
        VALUES ('t-orphan-user1', 'u-missing', 'ea1', 'OPEN', 'BTCUSD', 'BUY', 1, 100, 'FILLED', timestamptz '2025-03-01')`));
      // The path: fix quarantines the orphan, undo puts it back (with FK checks off) and must say so.
      const fixed = await runCli<FixReport>(['fix', '--apply', '--check', 'orphan:TradeLog.user_id', '--json', '--database-url', db.url]);
      expect(fixed.exitCode).toBe(0);
      const undo = await runCli<UndoOutcome>(['fix', '--undo', fixed.json.result.runId!, '--json', '--database-url', db.url]);
      expect(undo.exitCode).toBe(0);
      expect(undo.json.result.warnings.join(' ')).toMatch(/orphans again/);
      const b = await cli<BackupResult>(['backup', '--no-chain'], db.url, fkDir);
      expect(b.exitCode).toBe(0);
      const name = target('fk');
      const r = await cli<RestoreResult>(['restore', b.json.result.id, '--target-db', name], db.url, fkDir);
      expect(r.stderr).toMatch(/NOT VALID/);
      expect(r.exitCode).toBe(0);
      expect(r.json.result.notValidForeignKeys).toEqual([
        expect.objectContaining({ table: 'public.TradeLog', constraint: 'TradeLog_user_id_fkey', reason: expect.stringMatching(/u-missing/) }),
      ]);
      const url = urlWithDatabase(ADMIN_URL, name);
      expect(await q(url, `SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' AND NOT convalidated`)).toEqual([{ conname: 'TradeLog_user_id_fkey', convalidated: false }]);
      expect((await q(url, `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f'`))[0].n).toBe((await q(db.url, `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f'`))[0].n);
      const v = await runCli<ValidateReport>(['validate', '--samples', '5', '--json', '--database-url', url]);
      const check = v.json.result.checks.find((c) => c.name === 'orphan:TradeLog.user_id');
      expect(check!.failures).toBe(1);
      expect(JSON.stringify(check)).toContain('t-orphan-user1');
    } finally {
      await db.drop();
      rmSync(fkDir, { recursive: true, force: true });
    }
  });
});
