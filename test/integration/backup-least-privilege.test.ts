import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Jsonified } from '../helpers/cli.ts';
import { expectPrivilege, expectResult, ROLE_PASSWORD, startPrivilegeHarness, type PrivilegeHarness } from '../helpers/least-privilege.ts';
import type { BackupResult, ListResult, RestoreResult, StatusResult, VerifyResult } from '../helpers/results.ts';

// ONE throwaway cluster for the file (scram + TLS, wal_level = logical), the documented roles created from
// `axisor-db roles --print-sql`. Backups run under axisor_backup (REPLICATION + pg_read_all_data), drills and restores
// under axisor_restore (CREATEDB + SET on session_replication_role), and each under a role missing one grant, which
// must end with 67 and the exact statement. The source has an extension only a superuser may create (hypopg), a
// trusted one (pgcrypto) and tables owned by the migrator, so a restore must use --no-owner and skip hypopg.
let h: PrivilegeHarness;
let dir: string;
let chainLast: string;
const DB = 'axisor';

const backup = <R = unknown>(role: string, args: string[]) => h.cli<R>(role, [...args, '--backup-dir', dir]);
const asMigrator = (sql: string, db = DB) => h.asSuper(`SET ROLE axisor_migrator; ${sql}`, db);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'axisor-bk-lp-'));
  h = await startPrivilegeHarness({ db: DB, settings: { wal_level: 'logical', max_wal_senders: 10, max_replication_slots: 10 }, extensions: ['hypopg', 'pgcrypto'] });
  await asMigrator(`CREATE TABLE trades (id int PRIMARY KEY, sym text NOT NULL, salt bytea DEFAULT gen_random_bytes(4));
    CREATE TABLE fills (id int PRIMARY KEY, trade_id int REFERENCES trades, qty int);
    INSERT INTO trades (id, sym) SELECT g, 'S' || g FROM generate_series(1, 200) g;
    INSERT INTO fills SELECT g, g, g * 10 FROM generate_series(1, 200) g;`);
  // An object that depends on hypopg: left out with it, and named.
  await h.asSuper('CREATE VIEW hypo_v AS SELECT * FROM hypopg_list_indexes');
  // Roles missing exactly one grant of the documented ones.
  await h.asSuper(`CREATE ROLE axisor_bk_norepl LOGIN PASSWORD '${ROLE_PASSWORD}'; GRANT pg_read_all_data TO axisor_bk_norepl;
    CREATE ROLE axisor_rs_nocreatedb LOGIN PASSWORD '${ROLE_PASSWORD}';
    CREATE ROLE axisor_rs_noset LOGIN CREATEDB PASSWORD '${ROLE_PASSWORD}';`);
}, 120_000);

afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('backup role: the publication needs a DBA once (the message gives the SQL); then full + incremental, status and list work', async () => {
  const f1 = await backup<BackupResult>('axisor_backup', ['backup', '--type', 'full']);
  expectResult(f1);
  expect(f1.json.result.slot).toBeNull();
  expect(f1.json.result.warnings.join(' ')).toContain('CREATE PUBLICATION axisor_backup FOR ALL TABLES;');
  await h.asSuper('CREATE PUBLICATION axisor_backup FOR ALL TABLES');

  const full = await backup<BackupResult>('axisor_backup', ['backup', '--type', 'full']);
  expectResult(full);
  expect(full.json.result.slot).toMatch(/^axisor_/);
  await asMigrator(`UPDATE trades SET sym = 'X' WHERE id <= 10; INSERT INTO trades (id, sym) VALUES (201, 'new'); DELETE FROM fills WHERE id = 200`);
  const inc = await backup<BackupResult>('axisor_backup', ['backup', '--type', 'incremental']);
  expectResult(inc);
  expect(inc.json.result.changes).toMatchObject({ inserts: 1, updates: 10, deletes: 1 });
  chainLast = inc.json.result.id;

  const status = await backup<StatusResult>('axisor_backup', ['backup', 'status']);
  expectResult(status);
  expect(status.json.result.blockers).toEqual([]);
  expect(status.json.result.chain!.root).toBe(full.json.result.id);
  const list = await backup<ListResult>('axisor_backup', ['backup', 'list']);
  expectResult(list);
  expect(JSON.stringify(list.json.result)).toContain(chainLast);
}, 60_000);

test('without REPLICATION: an incremental is 67 naming ALTER ROLE … REPLICATION; a full backup still runs (no chain) and status lists the privilege', async () => {
  const inc = await backup<BackupResult>('axisor_bk_norepl', ['backup', '--type', 'incremental']);
  expectPrivilege(inc, 'ALTER ROLE axisor_bk_norepl REPLICATION;');
  const full = await h.cli<BackupResult>('axisor_bk_norepl', ['backup', '--type', 'full', '--backup-dir', join(dir, 'norepl')]);
  expectResult(full);
  expect(full.json.result.slot).toBeNull();
  expect(full.json.result.warnings.join(' ')).toContain('ALTER ROLE axisor_bk_norepl REPLICATION;');
  const status = await h.cli<StatusResult>('axisor_bk_norepl', ['backup', 'status', '--backup-dir', join(dir, 'norepl')]);
  expect(status.json.result.blockers.map((b) => b.code)).toContain('privilege.replication');
}, 60_000);

test('verify: the backup role (no CREATEDB) gets 67 with the checksums that passed, ALTER ROLE … CREATEDB and --no-drill; --no-drill passes', async () => {
  const v = await backup<VerifyResult>('axisor_backup', ['backup', 'verify', chainLast]);
  expectPrivilege(v, 'ALTER ROLE axisor_backup CREATEDB;');
  expect(v.json.error.message).toMatch(/checksums of \d+ files .* passed; the restore drill did not run/);
  expect(v.json.error.hint).toContain('--no-drill');
  // The details of a drill the role may not run: the checksums that passed, and the drill (src/restore/verify.ts).
  const details = v.json.error.details as Pick<Jsonified<VerifyResult>, 'checksums' | 'drill'>;
  expect(details.checksums.ok).toBe(true);
  expect(details.drill.ran).toBe(false);
  const noDrill = await backup('axisor_backup', ['backup', 'verify', chainLast, '--no-drill']);
  expectResult(noDrill);
}, 60_000);

test('verify under the restore role: the drill skips hypopg (superuser-only), keeps pgcrypto, and passes', async () => {
  const v = await backup<VerifyResult>('axisor_restore', ['backup', 'verify', chainLast]);
  expectResult(v);
  expect(v.json.result.drill).toMatchObject({ ran: true, ok: true, skippedExtensions: ['hypopg'] });
  expect(v.json.result.warnings.join(' ')).toContain('hypopg');
}, 60_000);

test('restore under the restore role with --no-owner: a new database with the data, pgcrypto, no hypopg and no axisor_backup publication', async () => {
  const r = await backup<RestoreResult>('axisor_restore', ['restore', chainLast, '--target-db', 'restored', '--no-owner']);
  expectResult(r);
  expect(r.json.result.skippedExtensions).toEqual(['hypopg']);
  expect(r.json.result.warnings.join(' ')).toMatch(/extension\(s\) hypopg .*and what uses them: VIEW public\.hypo_v; .*CREATE EXTENSION hypopg;/);
  expect(r.json.result.warnings.join(' ')).toContain('default privileges of role axisor_migrator');
  const [got] = await h.asSuper(`SELECT (SELECT count(*)::int FROM trades) AS trades, (SELECT count(*)::int FROM fills) AS fills,
      (SELECT count(*)::int FROM trades WHERE sym = 'X') AS updated,
      (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension) AS ext,
      (SELECT count(*)::int FROM pg_publication) AS pubs, to_regclass('hypo_v')::text AS view,
      (SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'trades') AS owner`, 'restored');
  expect(got).toEqual({ trades: 201, fills: 199, updated: 10, ext: 'pgcrypto,plpgsql', pubs: 0, view: null, owner: 'axisor_restore' });

  // --clean into a database the role owns (the one it just restored) works.
  const again = await backup<RestoreResult>('axisor_restore', ['restore', chainLast, '--target-db', 'restored', '--no-owner', '--clean']);
  expectResult(again);
  expect(again.json.result.replacedExisting).toBe(true);
}, 60_000);

test('restore under a role missing one grant: 67 and the exact statement, before or without changing anything', async () => {
  // Keeping the owners needs membership of them: the hint adds --no-owner.
  const owners = await backup('axisor_restore', ['restore', chainLast, '--target-db', 'owners']);
  expectPrivilege(owners, 'GRANT axisor_migrator TO axisor_restore;');
  expect(owners.json.error.hint).toContain('--no-owner');

  const nocreatedb = await backup('axisor_rs_nocreatedb', ['restore', chainLast, '--target-db', 'nocreatedb', '--no-owner']);
  expectPrivilege(nocreatedb, 'ALTER ROLE axisor_rs_nocreatedb CREATEDB;');

  const noset = await backup('axisor_rs_noset', ['restore', chainLast, '--target-db', 'noset', '--no-owner']);
  expectPrivilege(noset, 'GRANT SET ON PARAMETER session_replication_role TO axisor_rs_noset;');

  // --clean into a database owned by another role: refused up front, naming ALTER DATABASE … OWNER TO.
  await h.asSuper('CREATE DATABASE theirs');
  await h.asSuper('CREATE TABLE keep_me (id int)', 'theirs');
  const clean = await backup('axisor_restore', ['restore', chainLast, '--target-db', 'theirs', '--no-owner', '--clean']);
  expectPrivilege(clean, 'ALTER DATABASE theirs OWNER TO axisor_restore;');
  expect(clean.json.error.message).not.toMatch(/disconnect/);
  expect(clean.json.error.message).toContain('--clean renames it away'); // the up-front check, not the failed rename after the work

  // Nothing of these runs is left: no side databases, the other role's database untouched.
  const dbs = await h.asSuper<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1', '${DB}', 'restored') ORDER BY 1`);
  expect(dbs.map((d) => d.datname)).toEqual(['theirs']);
  expect(await h.asSuper('SELECT count(*)::int AS n FROM keep_me', 'theirs')).toEqual([{ n: 0 }]);
}, 90_000);
