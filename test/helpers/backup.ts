import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findPgTool, startThrowawayCluster, type PgToolName, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { ADMIN_URL, createTestDatabase, dropDatabase, query, urlWithDatabase, type TestDatabase } from './db.ts';
import { runCli, type CliResult } from './cli.ts';

/** A PostgreSQL program's path, found as the CLI finds it (PG_BIN, then PATH, then /usr/lib/postgresql/<newest>/bin). */
export async function pgTool(name: PgToolName): Promise<string> {
  return (await findPgTool(name, { env: process.env })).path;
}

/** A small schema with the things a logical backup must carry: enum, serial, FK, jsonb, numeric, bytea, arrays, generated column, view, trigger, TOAST. */
export const FIXTURE_SQL = `
CREATE TYPE plan AS ENUM ('FREE', 'PRO');
CREATE TABLE "User" (id text PRIMARY KEY, email text NOT NULL UNIQUE, plan plan NOT NULL DEFAULT 'FREE', created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE "TradeLog" (
  id bigserial PRIMARY KEY, user_id text NOT NULL REFERENCES "User"(id), size numeric(20,8) NOT NULL, price double precision,
  tags text[], metadata jsonb NOT NULL DEFAULT '{}', raw bytea, notional numeric GENERATED ALWAYS AS (size * 2) STORED, note text,
  executed_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX trade_user_idx ON "TradeLog"(user_id, executed_at);
CREATE TABLE audit (id serial PRIMARY KEY, what text);
CREATE FUNCTION audit_trade() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit(what) VALUES ('trade ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER trade_audit AFTER INSERT ON "TradeLog" FOR EACH ROW EXECUTE FUNCTION audit_trade();
CREATE VIEW user_volume AS SELECT user_id, sum(size) AS volume FROM "TradeLog" GROUP BY user_id;
`;

export const FIXTURE_DATA_SQL = `
INSERT INTO "User"(id, email, plan) SELECT 'u' || g, 'u' || g || '@example.com', CASE WHEN g % 3 = 0 THEN 'PRO'::plan ELSE 'FREE' END FROM generate_series(1, 50) g;
INSERT INTO "TradeLog"(user_id, size, price, tags, metadata, raw, note)
  SELECT 'u' || (g % 50 + 1), g / 7.0, g * 1.1, ARRAY['a', 'b' || g], jsonb_build_object('g', g, 'q', 'it''s "x"'), decode(md5(g::text), 'hex'),
         CASE WHEN g % 500 = 0 THEN repeat(md5(g::text), 400) ELSE E'tab\\there' END
    FROM generate_series(1, 3000) g;
`;

/** query() of helpers/db.ts, its rows untyped by default. */
export function q<R extends pg.QueryResultRow = any>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  return query<R>(url, sql, params);
}

/**
 * A throwaway cluster with wal_level = logical (incremental chains need it) and a database `shop` holding the fixture
 * schema and data; `src` is its URL. This server build only lets trusted output plugins decode
 * (output_plugin_libraries): where the setting exists, `plugins` are allowed. The cluster is stopped if the set-up fails.
 */
export async function startShopCluster(plugins = 'pgoutput, test_decoding'): Promise<{ cluster: ThrowawayCluster; src: string }> {
  const [opl] = await q(ADMIN_URL, `SELECT 1 AS x FROM pg_settings WHERE name = 'output_plugin_libraries'`);
  const cluster = await startThrowawayCluster({
    env: process.env,
    settings: { wal_level: 'logical', max_replication_slots: 8, max_wal_senders: 8, ...(opl ? { output_plugin_libraries: plugins } : {}) },
  });
  try {
    await q(cluster.url, 'CREATE DATABASE shop');
    const src = urlWithDatabase(cluster.url, 'shop');
    await q(src, FIXTURE_SQL);
    await q(src, FIXTURE_DATA_SQL);
    return { cluster, src };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

/** The cluster's database names, sorted (to show a refused restore created nothing). */
export async function databaseNames(clusterUrl: string): Promise<string[]> {
  return (await q(clusterUrl, 'SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname as string);
}

/** Per table: row count and an ordered content hash (the research note's "md5(string_agg(t::text ORDER BY ...))"). */
export async function contentFingerprint(url: string): Promise<Record<string, { rows: number; md5: string | null }>> {
  const tables = await q<{ s: string; t: string }>(url, `SELECT schemaname AS s, tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`);
  const out: Record<string, { rows: number; md5: string | null }> = {};
  for (const { s, t } of tables) {
    const qn = `"${s}"."${t.replace(/"/g, '""')}"`;
    const [r] = await q(url, `SELECT count(*)::int AS n, md5(string_agg(x::text, E'\\n' ORDER BY x::text)) AS h FROM ${qn} x`);
    out[`${s}.${t}`] = { rows: r.n, md5: r.h };
  }
  return out;
}

/** pg_dump -s without comments and blank lines (they carry the database name and dump times). */
export async function normalizedSchema(url: string, env: Record<string, string> = {}): Promise<string> {
  const r = await execa(await pgTool('pg_dump'), ['-s', '--no-owner', '-d', url], { env });
  // The axisor_backup publication is the backup tool's own (created on wal_level=logical servers for incrementals)
  // and is never restored (README, Roles): it is not part of the schema being compared.
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('--') && !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict') && !l.startsWith('CREATE PUBLICATION axisor_backup ')).join('\n');
}

/** The built CLI with --json against `url` and `backupDir`; R types the document's result (see runCli). */
export async function cli<R = unknown>(args: string[], url: string, backupDir: string, extra: { env?: Record<string, string | undefined> } = {}): Promise<CliResult<R>> {
  return runCli<R>([...args, '--database-url', url, '--backup-dir', backupDir, '--json'], { env: extra.env });
}

/** A test database holding the backup fixture (FIXTURE_SQL and its rows), and a private directory for its backups. */
export async function createBackupSource(prefix: string): Promise<{ src: TestDatabase; dir: string }> {
  const src = await createTestDatabase(prefix);
  await q(src.url, FIXTURE_SQL);
  await q(src.url, FIXTURE_DATA_SQL);
  return { src, dir: mkdtempSync(join(tmpdir(), `axisor-${prefix}-`)) };
}

/** Drops what a backup test made: the databases it restored into, its source, its directories (each only if made). */
export async function removeBackupTestLeftovers(o: { created?: readonly string[]; src?: TestDatabase; dirs?: ReadonlyArray<string | undefined> }): Promise<void> {
  for (const d of o.created ?? []) await dropDatabase(d).catch(() => {});
  await o.src?.drop();
  for (const d of o.dirs ?? []) if (d) rmSync(d, { recursive: true, force: true });
}

/** Names for the databases a test restores into (`axisor_test_<prefix>_<tag>_<pid>`), remembered in `created` for the clean-up. */
export function restoreTargets(prefix: string): { created: string[]; target: (tag: string) => string } {
  const created: string[] = [];
  return {
    created,
    target: (tag: string) => {
      const name = `axisor_test_${prefix}_${tag}_${process.pid}`;
      created.push(name);
      return name;
    },
  };
}
