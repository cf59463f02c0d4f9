import type { ConnectionSettings } from '../config/types.ts';
import { connectClient, quoteIdent, withClient, withDatabase } from '../db/index.ts';
import { AxisorError, PrerequisiteError, RefusedError } from '../errors.ts';
import { startThrowawayCluster, type ThrowawayCluster } from '../pgtools/cluster.ts';
import type { ProgressFn } from '../progress.ts';
import { redactedUrl } from '../config/url.ts';

/** Marks databases the demo created, so it only ever drops its own. */
const OWNER_COMMENT = 'created by axisor-db demo';

export interface DemoTarget {
  kind: 'url' | 'local' | 'ephemeral';
  /** Why this target was chosen, for the report. */
  reason: string;
  /** Connection to the server's maintenance database (for CREATE/DROP DATABASE). */
  server: ConnectionSettings;
  walLevel: string;
  serverVersion: string;
  cluster?: ThrowawayCluster;
}

export interface ChooseTargetInput {
  /** The resolved connection when DATABASE_URL/--database-url was given, else undefined. */
  explicit?: ConnectionSettings;
  ephemeral: boolean;
  env: Readonly<Record<string, string | undefined>>;
  onProgress?: ProgressFn;
  /** The "local server" to try before falling back to a throwaway cluster (tests point it at a dead port). */
  local?: ConnectionSettings;
}

const LOCAL: ConnectionSettings = Object.freeze({
  host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres', sslMode: 'disable', applicationName: 'axisor-db demo',
  connectTimeoutSeconds: 5, pgbouncer: false, redactedUrl: redactedUrl({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' }),
});

async function describeServer(c: ConnectionSettings): Promise<{ walLevel: string; serverVersion: string }> {
  return withClient(c, async (client) => {
    const { rows } = await client.query<{ wal_level: string; server_version: string }>(
      `SELECT current_setting('wal_level') AS wal_level, current_setting('server_version') AS server_version`);
    return { walLevel: rows[0]!.wal_level, serverVersion: rows[0]!.server_version };
  });
}

/**
 * DATABASE_URL (its server and credentials; the demo still makes its own databases there), else the local
 * server at 127.0.0.1:5432, else — or with --ephemeral — a throwaway cluster with wal_level=logical.
 */
export async function chooseTarget(input: ChooseTargetInput): Promise<DemoTarget> {
  if (!input.ephemeral && input.explicit) {
    const server = withDatabase(input.explicit, 'postgres');
    return { kind: 'url', reason: `DATABASE_URL / --database-url (${input.explicit.redactedUrl})`, server, ...(await describeServer(server)) };
  }
  if (!input.ephemeral) {
    try {
      const local = input.local ?? LOCAL;
      const probe = await connectClient(local);
      await probe.end();
      return { kind: 'local', reason: `the local server at ${local.host}:${local.port}`, server: local, ...(await describeServer(local)) };
    } catch (err) {
      if (!(err instanceof AxisorError) || err.exitCode !== 68) throw err;
      input.onProgress?.({ phase: 'target', message: `no server answers at ${(input.local ?? LOCAL).host}:${(input.local ?? LOCAL).port}; starting a throwaway cluster` });
    }
  }
  let cluster: ThrowawayCluster;
  try {
    cluster = await startThrowawayCluster({
      env: input.env,
      settings: { wal_level: 'logical', max_replication_slots: 8, max_wal_senders: 8, shared_preload_libraries: 'pg_stat_statements' },
    });
  } catch (err) {
    if (err instanceof AxisorError && err.code === 'tool.missing') {
      throw new PrerequisiteError('no_server', 'no PostgreSQL server answers and no server binaries (initdb, pg_ctl) are installed', {
        hint: 'install them (apt-get install postgresql-15), start a server, or set DATABASE_URL',
      });
    }
    throw err;
  }
  const server = { ...cluster.connection, applicationName: 'axisor-db demo' };
  // Some builds restrict logical decoding plugins with output_plugin_libraries; allow wal2json where it exists.
  await withClient(server, async (c) => {
    const { rows } = await c.query<{ setting: string }>(`SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'`);
    if (rows[0] && !/\bwal2json\b/.test(rows[0].setting)) {
      await c.query(`ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json`);
      await c.query('SELECT pg_reload_conf()');
    }
  });
  // The postmaster applies a reload asynchronously: wait until new sessions see it.
  for (let i = 0; i < 50; i++) {
    const seen = await withClient(server, async (c) =>
      (await c.query<{ ok: boolean }>(`SELECT coalesce(current_setting('output_plugin_libraries', true) ~ 'wal2json', true) AS ok`)).rows[0]!.ok);
    if (seen) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    kind: 'ephemeral',
    reason: input.ephemeral ? '--ephemeral: a throwaway cluster' : 'no local server: a throwaway cluster',
    server,
    cluster,
    ...(await describeServer(server)),
  };
}

/** Creates a database owned by the demo; an existing one is replaced only if the demo made it. */
export async function createDemoDatabase(server: ConnectionSettings, name: string): Promise<ConnectionSettings> {
  await withClient(server, async (c) => {
    const { rows } = await c.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [name]);
    if (rows.length > 0) {
      if (!rows[0]!.comment?.startsWith(OWNER_COMMENT)) {
        throw new RefusedError('demo_db_exists', `database "${name}" already exists and was not created by the demo`, {
          hint: `drop it yourself or choose another name with --demo-db`,
        });
      }
      await c.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
    }
    await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
    // COMMENT takes no parameters; the text is a constant of ours.
    await c.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS '${OWNER_COMMENT}'`);
  });
  return withDatabase(server, name);
}

/** Drops a database only if the demo created it (checked by its comment). */
export async function dropDemoDatabase(server: ConnectionSettings, name: string): Promise<boolean> {
  return withClient(server, async (c) => {
    const { rows } = await c.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [name]);
    if (rows.length === 0 || !rows[0]!.comment?.startsWith(OWNER_COMMENT)) return false;
    await c.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
    return true;
  });
}

/** Marks a database the demo caused to exist (e.g. a restore target) as the demo's, so cleanup may drop it. */
export async function markDemoDatabase(server: ConnectionSettings, name: string): Promise<void> {
  await withClient(server, (c) => c.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS '${OWNER_COMMENT}'`));
}
