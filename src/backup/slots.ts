import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import { connectClient } from '../db/connect.ts';
import { beginSql } from '../db/transaction.ts';
import { PUBLICATION } from '../archive/publication.ts';
import { quoteIdent } from '../db/ident.ts';
import { type AxisorError, PrerequisiteError, PrivilegeError } from '../errors.ts';
import { displayIdent } from '../db/ident.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { sha256Hex } from '../archive/manifest.ts';
import type { ServerInfo } from './introspect.ts';

/**
 * The decoding plugin of new chains. pgoutput ships with every PostgreSQL (no package to install, in the default
 * output_plugin_libraries) and sends values as their output function's text, NaN and ±Infinity included.
 * wal2json 2.5 (Debian 12) printed non-finite numbers as JSON null and has no numeric-data-types-as-string; on a
 * 1% change of a seeded 5M-trade database it also decoded 2.5x slower (0.56-0.71 s vs 0.21-0.24 s, 54.6 MB of
 * JSON vs 18.7 MB of protocol messages for 50,120 rows). Chains started by wal2json still restore (replay.ts).
 */
export const PLUGIN = 'pgoutput';

export { PUBLICATION };
export const CREATE_PUBLICATION_SQL = `CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES`;

/** Slots of axisor-db start with this, whatever their database or backup directory (`backup status` lists them all). */
export const SLOT_NAMESPACE = 'axisor_';

/**
 * Slots are named per (database, backup directory), so two catalogs of one database never fight over a slot,
 * and orphans of killed runs are recognised by their prefix.
 */
export function slotPrefix(database: string, backupDir: string): string {
  return `axisor_${sha256Hex(`${database}\0${backupDir}`).slice(0, 10)}_`;
}

export function newSlotName(prefix: string, backupId: string): string {
  return `${prefix}${backupId.slice(-4)}${backupId.slice(9, 15)}`.toLowerCase();
}

/** Why logical decoding cannot be used, or null (a missing REPLICATION attribute is a privilege: exit 67). */
export function logicalBlocker(info: ServerInfo): AxisorError | null {
  if (info.walLevel !== 'logical') {
    return new PrerequisiteError('wal_level', `incremental backups need wal_level = logical (the server has wal_level = ${info.walLevel})`, {
      hint: "run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL, and take a new full backup (axisor-db backup --type full)",
    });
  }
  if (info.outputPluginLibraries && !info.outputPluginLibraries.includes(PLUGIN)) {
    return new PrerequisiteError('output_plugin', `the server does not allow the ${PLUGIN} output plugin (output_plugin_libraries = '${info.outputPluginLibraries.join(', ')}')`, {
      hint: `run ALTER SYSTEM SET output_plugin_libraries = ${[...info.outputPluginLibraries, PLUGIN].join(', ')}; SELECT pg_reload_conf();`,
    });
  }
  if (!info.canReplicate) {
    const sql = `ALTER ROLE ${displayIdent(info.role)} REPLICATION;`;
    return new PrivilegeError('replication', `role "${info.role}" lacks the REPLICATION attribute: incremental backups need it to own a logical replication slot`, {
      hint: `as a DBA (once): ${sql} (pg_hba.conf also needs a line for its replication connections; README, section Roles)`,
      details: { role: info.role, object: 'replication', sql },
    });
  }
  return null;
}

export interface SlotState {
  name: string;
  plugin: string;
  active: boolean;
  /** A slot of a full backup still running (dropped by the server when that backup's connection ends). */
  temporary: boolean;
  walStatus: string | null;
  restartLsn: string | null;
  confirmedFlushLsn: string | null;
  retainedBytes: number | null;
  lagBytes: number | null;
  safeWalSize: number | null;
}

const SLOT_COLUMNS = `slot_name AS name, plugin, active, temporary, wal_status AS "walStatus", restart_lsn::text AS "restartLsn",
           confirmed_flush_lsn::text AS "confirmedFlushLsn",
           pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8 AS "retainedBytes",
           pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8 AS "lagBytes",
           safe_wal_size::int8 AS "safeWalSize"`;

/** Our slots of this database and backup directory. */
export async function listSlots(c: pg.Client, prefix: string): Promise<SlotState[]> {
  const { rows } = await c.query<SlotState>(`SELECT ${SLOT_COLUMNS}
      FROM pg_replication_slots WHERE database = current_database() AND starts_with(slot_name, $1) ORDER BY 1`, [prefix]);
  return rows;
}

/** Every axisor-db slot on the server, any database, any backup directory. */
export async function listServerSlots(c: pg.Client): Promise<Array<SlotState & { database: string | null }>> {
  const { rows } = await c.query<SlotState & { database: string | null }>(`SELECT ${SLOT_COLUMNS}, database::text AS database
      FROM pg_replication_slots WHERE starts_with(slot_name, $1) ORDER BY database, slot_name`, [SLOT_NAMESPACE]);
  return rows;
}

/**
 * Drops our inactive slots of this (database, directory) other than `keep`: the slots of older chains of the same
 * directory, which a new full backup replaced. (A full backup's slot is temporary until its backup is published,
 * so a failed or killed full leaves no slot behind: see exportSnapshot.)
 */
export async function dropOtherSlots(c: pg.Client, prefix: string, keep: string | null): Promise<string[]> {
  const dropped: string[] = [];
  for (const s of await listSlots(c, prefix)) {
    if (s.name === keep || s.active || s.temporary) continue;
    await c.query('SELECT pg_drop_replication_slot($1)', [s.name]).then(() => dropped.push(s.name), () => {});
  }
  return dropped;
}

/** Tables whose UPDATE/DELETE a FOR ALL TABLES publication would make fail (no primary key, no replica identity). */
async function tablesBlockingPublication(c: pg.Client): Promise<string[]> {
  const { rows } = await c.query<{ t: string }>(`
    SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
       AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
     ORDER BY 1`);
  return rows.map((r) => r.t);
}

/** Why the publication cannot be used (or created), or null when it is there and publishes everything. */
export async function publicationBlocker(c: pg.Client, database: string, create: boolean): Promise<AxisorError | null> {
  const recreate = `as a superuser, in database ${database}: DROP PUBLICATION IF EXISTS ${PUBLICATION}; ${CREATE_PUBLICATION_SQL};`;
  const { rows } = await c.query<{ ok: boolean }>(
    'SELECT puballtables AND pubinsert AND pubupdate AND pubdelete AND pubtruncate AND NOT pubviaroot AS ok FROM pg_publication WHERE pubname = $1', [PUBLICATION]);
  if (rows.length > 0) {
    // publish_via_partition_root would report partitions' changes as their root's, which backups do not carry.
    return rows[0]!.ok ? null : new PrerequisiteError('publication', `the publication ${PUBLICATION} must be FOR ALL TABLES, publish insert, update, delete and truncate, and not publish_via_partition_root`, { hint: recreate });
  }
  const missing = `incremental backups decode changes through the publication ${PUBLICATION}, which does not exist in ${database}`;
  if (!create) return new PrerequisiteError('publication', missing, { hint: `a full backup creates it when the role may; or, ${recreate.replace('DROP PUBLICATION IF EXISTS axisor_backup; ', '')}` });
  // A FOR ALL TABLES publication makes UPDATE and DELETE fail on tables without a replica identity: never create
  // it while such a table exists (the application would start failing).
  const blocking = await tablesBlockingPublication(c);
  if (blocking.length > 0) {
    return new PrerequisiteError('no_identity', `incremental backups need a primary key or replica identity on every table; missing on: ${blocking.join(', ')}`, {
      hint: `add a primary key, or run ALTER TABLE ${blocking[0]} REPLICA IDENTITY FULL; then take a full backup`,
    });
  }
  try {
    await c.query(CREATE_PUBLICATION_SQL);
    return null;
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      // Not a GRANT: FOR ALL TABLES needs a superuser (PostgreSQL 15-17); a DBA creates it once, then chains work.
      const role = (await c.query<{ u: string }>('SELECT current_user::text AS u')).rows[0]!.u;
      return new PrivilegeError('publication', `${missing}, and role "${role}" may not create it (FOR ALL TABLES needs a superuser)`, {
        hint: `${recreate.replace('DROP PUBLICATION IF EXISTS axisor_backup; ', '')} then take a full backup`,
        details: { role, object: `publication ${PUBLICATION}`, sql: `${CREATE_PUBLICATION_SQL};` },
      });
    }
    if ((err as { code?: string }).code === '42710') return null; // created concurrently
    throw err;
  }
}

export interface ExportedSnapshot {
  name: string;
  /** The slot's consistent point: every commit after it is in the slot, every commit before it in the snapshot. */
  lsn: string | null;
  slot: string | null;
  /** Closes the connection that keeps the snapshot alive (a chain's slot stays pending: see persistSlot). */
  release(): Promise<void>;
}

/** Temporary slots of full backups in progress, by their final name, with the connection that owns them. */
const pending = new Map<string, { client: pg.Client; temp: string }>();

export function temporarySlotName(slotName: string): string {
  return `${slotName}_t`;
}

/**
 * An exported snapshot that the dump sessions import. With a slot, it comes from CREATE_REPLICATION_SLOT … TEMPORARY
 * on a replication connection, which then must stay open and idle until the dump is done (the snapshot dies with
 * the next command); that makes the full backup and the slot's change stream meet without gap or overlap. The slot
 * is temporary: if the backup fails, or the process is killed, or the server restarts, PostgreSQL drops it with the
 * connection, so no orphan keeps WAL. Only once the backup is published does persistSlot copy it to a permanent
 * slot under its final name; discardSlot ends it otherwise.
 */
export async function exportSnapshot(config: AxisorConfig, slotName: string | null): Promise<ExportedSnapshot> {
  if (slotName) {
    // A role without REPLICATION is refused at start-up (or at the slot): exit 67 naming ALTER ROLE … REPLICATION.
    const priv = { role: config.connection.user, database: config.connection.database, action: 'create the logical replication slot of the chain', alternative: 'or take the full backup with --no-chain' };
    const c = await mapPrivilege(priv, () => connectClient(config, { replication: 'database', applicationName: 'axisor-db backup (slot)', statementTimeoutMs: 0 }));
    const temp = temporarySlotName(slotName);
    try {
      const { rows } = await mapPrivilege(priv, () => c.query(`CREATE_REPLICATION_SLOT ${quoteIdent(temp)} TEMPORARY LOGICAL ${PLUGIN} EXPORT_SNAPSHOT`));
      const r = rows[0] as { snapshot_name: string; consistent_point: string };
      pending.set(slotName, { client: c, temp });
      return { name: r.snapshot_name, lsn: r.consistent_point, slot: slotName, release: async () => {} };
    } catch (err) {
      await c.end().catch(() => {});
      // The pre-flight reads output_plugin_libraries as text; a value it misjudges (e.g. the whole list quoted as
      // one item) only shows here. It is still a server prerequisite, not a bug.
      if (/may not be used as an output plugin|could not access file/i.test(String((err as Error)?.message))) {
        throw new PrerequisiteError('output_plugin', `the server refused ${PLUGIN} as a logical decoding plugin: ${(err as Error).message}`, {
          hint: `allow it: ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding (an unquoted list); SELECT pg_reload_conf(); or take the full backup with --no-chain`,
        });
      }
      throw err;
    }
  }
  const c = await connectClient(config, { applicationName: 'axisor-db backup (snapshot)', statementTimeoutMs: 0 });
  try {
    // Held open (never committed) until release(): the exported snapshot lives as long as this transaction.
    await c.query(beginSql({ isolationLevel: 'repeatable read', readOnly: true }));
    const { rows } = await c.query<{ s: string }>('SELECT pg_export_snapshot() AS s');
    return { name: rows[0]!.s, lsn: null, slot: null, release: () => c.end().catch(() => {}) };
  } catch (err) {
    await c.end().catch(() => {});
    throw err;
  }
}

/** After the full backup is published: the chain's permanent slot, a copy of the temporary one (same LSNs). */
export async function persistSlot(control: pg.Client, slotName: string): Promise<void> {
  const p = pending.get(slotName);
  if (!p) throw new Error(`no pending slot ${slotName}`);
  pending.delete(slotName);
  try {
    await control.query('SELECT pg_copy_logical_replication_slot($1, $2, false)', [p.temp, slotName]);
  } finally {
    await p.client.end().catch(() => {});
  }
}

/** The full backup failed: end its connection, and PostgreSQL drops its temporary slot. */
export async function discardSlot(slotName: string): Promise<void> {
  const p = pending.get(slotName);
  pending.delete(slotName);
  await p?.client.end().catch(() => {});
}
