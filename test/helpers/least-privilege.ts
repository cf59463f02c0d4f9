import { expect } from '@jest/globals';
import pg from 'pg';
import { withDatabase } from '../../src/db/index.ts';
import { findPgTool, runPgTool, startThrowawayCluster, type ThrowawayCluster, type ThrowawayClusterOptions } from '../../src/pgtools/index.ts';
import { runCli, type CliResult } from './cli.ts';

/**
 * The least-privilege harness: ONE throwaway cluster per test file with scram passwords, TLS from a CA made by
 * openssl at start, pg_hba `cert` lines for the roles named in `certRoles` (client-certificate login, CN = role),
 * and the documented roles created by running `axisor-db roles --print-sql` through psql, exactly as a DBA would.
 * Every password role gets PASSWORD; cert roles get none (they can only log in with their certificate).
 * Backup/restore tests reuse it with `settings: { wal_level: 'logical', ... }`.
 */
export const ROLE_PASSWORD = 'Least-Privilege-1';

export interface PrivilegeHarness {
  cluster: ThrowawayCluster;
  db: string;
  /** Client certificates issued for `certRoles`. */
  certs: Record<string, { cert: string; key: string }>;
  /** postgres://role:PASSWORD@127.0.0.1:port/db?sslmode=verify-full&sslrootcert=CA (ssl overridable). */
  roleUrl(role: string, ssl?: string, db?: string): string;
  /** A URL for a certificate role: no password, its cert and key as sslcert/sslkey. */
  certUrl(role: string, ssl?: Record<string, string>): string;
  superUrl(): string;
  /** Runs SQL as the superuser (password over TCP, no TLS) in `db` (default: the harness database). */
  asSuper<R extends pg.QueryResultRow = any>(text: string, db?: string): Promise<R[]>;
  /** The built CLI with --json under DATABASE_URL = url (default: roleUrl(role)); R types the result (see runCli). */
  cli<R = unknown>(role: string, args: string[], url?: string): Promise<CliResult<R>>;
  stop(): Promise<void>;
}

export async function startPrivilegeHarness(opts: { db?: string; certRoles?: string[]; rolePrefix?: string; settings?: ThrowawayClusterOptions['settings']; extensions?: string[] } = {}): Promise<PrivilegeHarness> {
  const db = opts.db ?? 'axisor';
  const prefix = opts.rolePrefix ?? 'axisor_';
  const certRoles = opts.certRoles ?? [];
  const cluster = await startThrowawayCluster({
    env: process.env, auth: 'scram', superuserPassword: 'Super-Secret-1', tls: true, settings: opts.settings,
    hba: certRoles.map((r) => `hostssl all ${r} 127.0.0.1/32 cert`),
  });
  const ca = cluster.tls!.caFile;
  const verify = `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`;
  const certs: PrivilegeHarness['certs'] = {};
  const h: PrivilegeHarness = {
    cluster, db, certs,
    roleUrl: (role, ssl = verify, d = db) => `postgres://${role}:${ROLE_PASSWORD}@127.0.0.1:${cluster.port}/${d}?${ssl}`,
    certUrl: (role, ssl = {}) => `postgres://${role}@127.0.0.1:${cluster.port}/${db}?${new URLSearchParams({ sslmode: 'verify-full', sslrootcert: ca, sslcert: certs[role]!.cert, sslkey: certs[role]!.key, ...ssl })}`,
    superUrl: () => `postgres://postgres:${encodeURIComponent(cluster.connection.password!)}@127.0.0.1:${cluster.port}/${db}`,
    async asSuper(text, d = db) {
      const c = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database: d, password: cluster.connection.password });
      await c.connect();
      try {
        return (await c.query(text)).rows;
      } finally {
        await c.end();
      }
    },
    cli: <R,>(role: string, args: string[], url?: string) => runCli<R>([...args, '--json'], { env: { DATABASE_URL: url ?? h.roleUrl(role) } }),
    stop: () => cluster.stop(),
  };
  try {
    for (const r of certRoles) certs[r] = await cluster.tls!.issueClientCert(r);
    await h.asSuper(`CREATE DATABASE ${db}`, 'postgres');
    for (const e of opts.extensions ?? []) await h.asSuper(`CREATE EXTENSION ${e}`);
    const printed = await runCli(['roles', '--print-sql', '--dbname', db, '--role-prefix', prefix]);
    if (printed.exitCode !== 0) throw new Error(`roles --print-sql failed: ${printed.stderr}`);
    const psql = await findPgTool('psql', { env: process.env });
    await runPgTool(psql, ['-v', 'ON_ERROR_STOP=1', '-q', '-f', '-'], withDatabase(cluster.connection, db), { baseEnv: process.env, execa: { input: printed.stdout } });
    for (const job of ['backup', 'restore', 'monitor', 'developer', 'migrator']) {
      const role = `${prefix}${job}`;
      if (!certRoles.includes(role)) await h.asSuper(`ALTER ROLE ${role} PASSWORD '${ROLE_PASSWORD}'`);
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return h;
}

/**
 * Exit codes below 64 are command results (0 ok, 1 warnings, 2 findings); 64 and up are failures of the tool itself.
 * The JSON envelope's `ok` is true only for exit 0 (README, Commands), so a result with warnings has ok: false.
 */
export function expectResult(r: CliResult): void {
  if (r.exitCode >= 64) throw new Error(`exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
  expect({ ok: r.json?.ok, exitCode: r.json?.exitCode, result: r.json?.result !== undefined }).toEqual({ ok: r.exitCode === 0, exitCode: r.exitCode, result: true });
}

/** Exit 67 (privilege.*) and the exact statement in the message or hint. */
export function expectPrivilege(r: CliResult, grant: string): void {
  expect({ exit: r.exitCode, code: r.json?.error?.code?.split('.')[0] }).toEqual({ exit: 67, code: 'privilege' });
  expect(`${r.json.error.message}\n${r.json.error.hint}`).toContain(grant);
}
