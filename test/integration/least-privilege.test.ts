import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmodSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import pg from 'pg';
import { resolveConfig } from '../../src/config/resolve.ts';
import { withClient } from '../../src/db/index.ts';
import { analyzeTable } from '../../src/optimize/apply.ts';
import { findPgTool, runPgTool, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { buildRolesSql } from '../../src/roles/sql.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { expectPrivilege, expectResult, ROLE_PASSWORD, startPrivilegeHarness, type PrivilegeHarness } from '../helpers/least-privilege.ts';
import type { DebugPerfResult, DebugPoolResult, FixReport, OptimizeResult, RolesResult, ValidateReport } from '../helpers/results.ts';

// ONE throwaway cluster for the whole file (test/helpers/least-privilege.ts): scram for passwords, TLS with a CA made
// by openssl at start, a pg_hba `cert` line for the monitor role (client-certificate login), pg_stat_statements
// preloaded. The documented roles are created from `axisor-db roles --print-sql` (the README's script) and every
// command outside backup/restore runs under its role, and under a role missing one grant (exit 67 and the GRANT).
let h: PrivilegeHarness;
let cluster: ThrowawayCluster;
let monitorCert: { cert: string; key: string };
const DB = 'axisor';
const PASSWORD = ROLE_PASSWORD;
const roleUrl = (role: string, ssl?: string) => h.roleUrl(role, ssl);
const superUrl = () => h.superUrl();
const asSuper = (text: string, db?: string) => h.asSuper(text, db);
const cli = <R = unknown>(role: string, args: string[], url?: string) => h.cli<R>(role, args, url);

beforeAll(async () => {
  h = await startPrivilegeHarness({ db: DB, certRoles: ['axisor_monitor'], settings: { shared_preload_libraries: 'pg_stat_statements' }, extensions: ['pg_stat_statements'] });
  cluster = h.cluster;
  monitorCert = h.certs.axisor_monitor!;
  // A role missing grants: only CONNECT (no SELECT on the tables, no schema of its own).
  await asSuper(`CREATE ROLE axisor_nogrant LOGIN PASSWORD '${PASSWORD}'; GRANT CONNECT ON DATABASE ${DB} TO axisor_nogrant`);
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

test('the README carries the same roles script the command prints', () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  expect(readme).toContain(buildRolesSql({ prefix: 'axisor_', database: 'axisor', schema: 'public' }).script);
});

describe('migrator (the schema owner, no CREATE on the database)', () => {
  test('migrate applies the migrations without CREATE on the database', async () => {
    expect((await asSuper(`SELECT has_database_privilege('axisor_migrator', '${DB}', 'CREATE') AS c`))[0].c).toBe(false);
    expectResult(await cli('axisor_migrator', ['migrate']));
    const owners = await asSuper(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'`);
    expect(owners).toEqual([{ tableowner: 'axisor_migrator' }]);
    // data the other roles look at, written by its owner
    await asSuper(`SET ROLE axisor_migrator; INSERT INTO "User" (email) SELECT 'u' || g || '@x' FROM generate_series(1, 300) g`);
  });

  test('a role that does not own the schema gets 67 and the exact GRANT for the step that failed', async () => {
    // the history exists (the migrator made it): reading it is the first refusal
    expectPrivilege(await cli('axisor_nogrant', ['migrate']), 'GRANT SELECT ON TABLE public._prisma_migrations TO axisor_nogrant;');
    // an existing schema it may use but not create in: the history table is the refusal
    await asSuper('CREATE SCHEMA scratch; GRANT USAGE ON SCHEMA scratch TO axisor_nogrant');
    expectPrivilege(await cli('axisor_nogrant', ['migrate', '--schema', 'scratch']), 'GRANT CREATE ON SCHEMA scratch TO axisor_nogrant;');
    // a schema that does not exist, on a database it may not create schemas in
    expectPrivilege(await cli('axisor_nogrant', ['migrate', '--schema', 'nowhere']), 'CREATE SCHEMA nowhere AUTHORIZATION axisor_nogrant;');
  });

  test('fix (dry run and --apply) works in the quarantine schema the DBA created once', async () => {
    expectResult(await cli('axisor_migrator', ['fix']));
    expectResult(await cli('axisor_migrator', ['fix', '--apply']));
  });

  test('without the quarantine schema, fix says exactly how the DBA creates it; that SQL makes it work', async () => {
    await asSuper('DROP SCHEMA axisor_quarantine CASCADE');
    const r = await cli<FixReport>('axisor_migrator', ['fix']);
    expectPrivilege(r, 'CREATE SCHEMA axisor_quarantine AUTHORIZATION axisor_migrator;');
    await asSuper(r.json.error.details!.sql as string);
    expectResult(await cli('axisor_migrator', ['fix']));
  });

  test('optimize --apply: ANALYZE is reported only where the role may run it', async () => {
    const developer = resolveConfig({ flags: { databaseUrl: roleUrl('axisor_developer') }, cwd: ROOT });
    const migrator = resolveConfig({ flags: { databaseUrl: roleUrl('axisor_migrator') }, cwd: ROOT });
    const denied = await withClient(developer, (c) => analyzeTable(c, 'public', 'User'));
    expect(denied).toMatchObject({ ok: false, denied: true });
    expect(denied.error).toContain('axisor_migrator');
    expect(await withClient(migrator, (c) => analyzeTable(c, 'public', 'User'))).toMatchObject({ ok: true });
  });
});

describe('developer (SELECT) and monitor (pg_monitor, client certificate)', () => {
  test('validate and migrate status run under the developer role', async () => {
    expectResult(await cli('axisor_developer', ['validate']));
    expectResult(await cli('axisor_developer', ['migrate', 'status']));
  });

  test('validate under a role without SELECT: 67, each check naming its table and the GRANT', async () => {
    await asSuper('GRANT USAGE ON SCHEMA public TO axisor_nogrant');
    const r = await cli<ValidateReport>('axisor_nogrant', ['validate']);
    expect(r.exitCode).toBe(67);
    expect(r.json.result.summary.privilegeDenied).toBe(r.json.result.summary.checks);
    const trade = r.json.result.checks.find((c) => c.name === 'negative_trade_size');
    expect(trade!.error!.message).toContain('GRANT SELECT ON TABLE public."TradeLog" TO axisor_nogrant;');
  });

  test('no CONNECT on the database: 67 naming GRANT CONNECT, at connection time', async () => {
    await asSuper('CREATE DATABASE closed', 'postgres');
    await asSuper('REVOKE CONNECT ON DATABASE closed FROM PUBLIC', 'postgres');
    const r = await cli<DebugPoolResult>('axisor_nogrant', ['debug-pool'], roleUrl('axisor_nogrant').replace(`/${DB}?`, '/closed?'));
    expectPrivilege(r, 'GRANT CONNECT ON DATABASE closed TO axisor_nogrant;');
  });

  test('debug-pool without pg_read_all_stats warns that other sessions are hidden (never a silent 0)', async () => {
    const other = new pg.Client({ connectionString: superUrl() });
    await other.connect();
    try {
      await other.query('BEGIN; SELECT 1');
      const otherPid = (await other.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
      const dev = await cli<DebugPoolResult>('axisor_developer', ['debug-pool']);
      expectResult(dev);
      expect(dev.exitCode).toBeGreaterThanOrEqual(1);
      const hidden = dev.json.result.findings.find((f) => f.check === 'hidden_sessions');
      expect(hidden!.message).toContain('GRANT pg_read_all_stats TO axisor_developer;');
      expect(dev.json.result.visibility).toMatchObject({ readAllStats: false });
      // the monitor (pg_monitor) sees the same session in full, logging in with its client certificate
      const mon = await cli<DebugPoolResult>('axisor_monitor', ['debug-pool', '--ssl-cert', monitorCert.cert, '--ssl-key', monitorCert.key],
        `postgres://axisor_monitor@127.0.0.1:${cluster.port}/${DB}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.tls!.caFile)}`);
      expectResult(mon);
      expect(mon.json.result.visibility).toMatchObject({ readAllStats: true, hiddenSessions: 0 });
      expect(mon.json.result.findings.map((f) => f.check)).not.toContain('hidden_sessions');
      expect(mon.json.result.sessions.map((s) => s.pid)).toContain(otherPid);
    } finally {
      await other.end();
    }
  });

  test('debug-perf and optimize run without pg_read_all_settings (no shared_preload_libraries read) and say what is hidden', async () => {
    // statements of another role (the superuser) are recorded in pg_stat_statements
    for (let i = 0; i < 5; i++) await asSuper(`SELECT count(*) FROM "User" WHERE email = 'x${i}'`);
    const perf = await cli<DebugPerfResult>('axisor_developer', ['debug-perf']);
    expectResult(perf);
    expect(perf.json.result.statStatements).toMatchObject({ installed: true, preloaded: true, problem: null });
    const opt = await cli<OptimizeResult>('axisor_developer', ['optimize']);
    expectResult(opt);
    expect(opt.json.result.hidden.statements).toBeGreaterThan(0);
    const f = opt.json.result.findings.find((x) => x.check === 'hidden_statements');
    expect(f!.severity).toBe('warning');
    expect(f!.message).toContain('GRANT pg_read_all_stats TO axisor_developer;');
    expect(opt.exitCode).toBeGreaterThanOrEqual(1);
  });

  test('optimize --apply without owning the table: 67 naming the owner; without SELECT the statement is reported with the GRANT', async () => {
    await asSuper(`SET ROLE axisor_migrator; CREATE TABLE "Big" (id int PRIMARY KEY, k int NOT NULL, v text);
      INSERT INTO "Big" SELECT g, g % 5000, 'v' || g FROM generate_series(1, 30000) g`);
    await asSuper('ANALYZE "Big"');
    const developer = resolveConfig({ flags: { databaseUrl: roleUrl('axisor_developer') }, cwd: ROOT });
    await withClient(developer, async (c) => {
      for (let i = 0; i < 30; i++) await c.query('SELECT * FROM "Big" WHERE k = $1', [i]);
    });
    const before = await asSuper(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'Big'`);
    const r = await cli<OptimizeResult>('axisor_developer', ['optimize', '--apply']);
    expect(r.exitCode).toBe(67);
    const failed = r.json.result.applied!.find((a) => a.status === 'failed');
    expect(failed!.error).toContain('run --apply as role axisor_migrator');
    expect(await asSuper(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'Big'`)).toEqual(before);
    // the monitor sees everyone's statements but may not read "Big": EXPLAIN is refused, and the finding names the GRANT
    const mon = await cli<OptimizeResult>('axisor_monitor', ['optimize', '--ssl-cert', monitorCert.cert, '--ssl-key', monitorCert.key],
      `postgres://axisor_monitor@127.0.0.1:${cluster.port}/${DB}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.tls!.caFile)}`);
    expectResult(mon);
    const refused = mon.json.result.findings.find((f) => f.check === 'not_planned_privilege');
    expect(refused!.message).toContain('GRANT SELECT ON TABLE public."Big" TO axisor_monitor;');
  });

  test('debug-perf under the monitor role (certificate login)', async () => {
    const r = await runCli<DebugPerfResult>(['debug-perf', '--json'], {
      env: { PGHOST: '127.0.0.1', PGPORT: String(cluster.port), PGUSER: 'axisor_monitor', PGDATABASE: DB, PGSSLMODE: 'verify-ca', PGSSLROOTCERT: cluster.tls!.caFile, PGSSLCERT: monitorCert.cert, PGSSLKEY: monitorCert.key },
    });
    expectResult(r);
  });
});

describe('TLS like libpq', () => {
  const monitorConn = (ssl: Record<string, string>) => resolveConfig({
    flags: { databaseUrl: `postgres://axisor_monitor@127.0.0.1:${cluster.port}/${DB}?${new URLSearchParams(ssl)}` }, cwd: ROOT,
  }).connection;

  test('a client certificate logs in through a child tool too (PGSSLCERT/PGSSLKEY in its environment)', async () => {
    const psql = await findPgTool('psql', { env: process.env });
    const c = monitorConn({ sslmode: 'verify-full', sslrootcert: cluster.tls!.caFile, sslcert: monitorCert.cert, sslkey: monitorCert.key });
    const { stdout } = await runPgTool(psql, ['-Atc', `SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`], c, { baseEnv: process.env });
    expect(stdout.trim()).toBe('axisor_monitor true');
  });

  test('sslmode=require with a root certificate verifies the chain: the wrong CA is refused (68) by the driver and by a child tool', async () => {
    const wrong = { sslmode: 'require', sslrootcert: cluster.tls!.wrongCaFile, sslcert: monitorCert.cert, sslkey: monitorCert.key };
    const r = await cli<DebugPoolResult>('axisor_monitor', ['debug-pool'], `postgres://axisor_monitor@127.0.0.1:${cluster.port}/${DB}?${new URLSearchParams(wrong)}`);
    expect(r.exitCode).toBe(68);
    expect(r.json.error.code).toBe('connection.ssl_verify');
    expect(r.json.error.hint).toContain(cluster.tls!.wrongCaFile);
    expect(r.json.error.hint).not.toMatch(/--ssl-mode require|skip verification/);
    const psql = await findPgTool('psql', { env: process.env });
    const child = await runPgTool(psql, ['-Atc', 'SELECT 1'], monitorConn(wrong), { baseEnv: process.env }).then(() => null, (e) => e);
    expect(child).toMatchObject({ exitCode: 68, code: 'connection.ssl_verify' });
    // and the right CA under require connects (so the refusal above is about the CA, not the mode)
    const right = await cli('axisor_monitor', ['debug-pool'], `postgres://axisor_monitor@127.0.0.1:${cluster.port}/${DB}?${new URLSearchParams({ ...wrong, sslrootcert: cluster.tls!.caFile })}`);
    expectResult(right);
  });

  test('a private key readable by others is refused before connecting, as libpq does (78)', async () => {
    chmodSync(monitorCert.key, 0o644);
    try {
      const r = await cli<DebugPoolResult>('axisor_monitor', ['debug-pool', '--ssl-cert', monitorCert.cert, '--ssl-key', monitorCert.key],
        `postgres://axisor_monitor@127.0.0.1:${cluster.port}/${DB}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.tls!.caFile)}`);
      expect(r.exitCode).toBe(78);
      expect(r.json.error.code).toBe('config.ssl_key_permissions');
    } finally {
      chmodSync(monitorCert.key, 0o600);
    }
  });

  test('without its certificate the cert-only role is refused with a hint naming --ssl-cert (68)', async () => {
    const r = await cli<DebugPoolResult>('axisor_monitor', ['debug-pool'], `postgres://axisor_monitor@127.0.0.1:${cluster.port}/${DB}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.tls!.caFile)}`);
    expect(r.exitCode).toBe(68);
    expect(r.json.error.hint).toContain('--ssl-cert');
  });
});

test('openssl made the certificates (sanity of the harness)', async () => {
  const r = await execa('openssl', ['x509', '-noout', '-subject', '-in', monitorCert.cert]);
  expect(r.stdout).toContain('axisor_monitor');
});

test('roles --json carries every role and the script; --print-sql with --json is a usage error', async () => {
  const r = await runCli<RolesResult>(['roles', '--json', '--dbname', 'axisor', '--role-prefix', 'ops_']);
  expect(r.exitCode).toBe(0);
  expect(r.json.result.roles.map((x) => `${x.job}=${x.name}`)).toEqual(['backup=ops_backup', 'restore=ops_restore', 'monitor=ops_monitor', 'developer=ops_developer', 'migrator=ops_migrator']);
  expect(r.json.result.script).toContain('GRANT pg_monitor TO ops_monitor;');
  expect((await runCli(['roles', '--print-sql', '--json'])).exitCode).toBe(64);
});
