import { authenticateChain } from '../archive/encryption.ts';
import type { BackupKey } from '../crypto/key.ts';
import type pg from 'pg';
import { assertChainIntact } from '../archive/checksums.ts';
import { classifyFailure, type FailureContext } from '../archive/classify.ts';
import { sweepTempDirsOnce } from '../pgtools/tempdirs.ts';
import { findBackup, findLatest, resolveChain } from '../archive/catalog.ts';
import { microsToIso, timestampMicros } from '../archive/changes.ts';
import type { Manifest } from '../archive/manifest.ts';
import type { AxisorConfig } from '../config/types.ts';
import { withClient, withDatabase } from '../db/connect.ts';
import { displayIdent, quoteIdent } from '../db/ident.ts';
import { NotFoundError, PrivilegeError, RefusedError, UsageError } from '../errors.ts';
import { mapPrivilege, toPrivilegeError } from '../db/privilege.ts';
import type { ProgressFn } from '../progress.ts';
import { loadChain, type LoadResult } from './load.ts';
import type { NotValidForeignKey } from './foreign-keys.ts';
import { assertToTimeReplayable, type ReplayStats } from './replay.ts';
import { assertRestorableTarget, countUserObjects, createDatabase, databaseExists, dropDatabase, markSideDatabase, sideName, sweepSideDatabases } from '../db/side-databases.ts';
import { withTransaction } from '../db/transaction.ts';
import type { ServiceContext } from '../service.ts';

export interface RestoreOptions {
  id: string | null;
  latest: boolean;
  targetDb: string;
  clean: boolean;
  toTime: string | null;
  tables: string[];
  jobs: number;
  noOwner: boolean;
  /** Skip the source's GRANT/REVOKE (pg_restore --no-privileges). */
  noAcl?: boolean;
  maintenanceDb: string;
  env: Readonly<Record<string, string | undefined>>;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** --encryption-key-file: the key an encrypted backup was written with. */
  encryptionKey?: BackupKey | null;
}

/** runRestore's input: what the command parsed; the environment, progress and signal come from the ServiceContext. */
export type RestoreInput = Omit<RestoreOptions, 'env' | 'onProgress' | 'signal'>;

export interface RestoreResult {
  id: string;
  chain: string[];
  targetDb: string;
  replacedExisting: boolean;
  tables: Array<{ schema: string; name: string }>;
  toTime: string | null;
  replay: ReplayStats | null;
  droppedForeignKeys: number;
  /** Foreign keys the backed-up data violates: created NOT VALID (run `axisor-db validate` on the target for the rows). */
  notValidForeignKeys: NotValidForeignKey[];
  /** The backup is schema-only: the target has the schema and no rows. */
  schemaOnly: boolean;
  rows: number;
  /** Side databases of killed runs that this run dropped. */
  sweptDatabases: string[];
  /** Extensions of the backup the restoring role may not create: not restored (named in warnings). */
  skippedExtensions: string[];
  warnings: string[];
  checkedFiles: number;
  checkedBytes: number;
  durationMs: number;
  /** Where the time went (ms; see docs/performance.md): checksumsMs, createMs, schemaMs, dataMs, indexesMs, foreignKeysMs (these three overlap; restoreWorkMs is their wall time), finishMs, swapMs. */
  phases: Record<string, number>;
}

/** schema.table or a bare name (looked up in the backup; must be unambiguous). */
export function resolveTables(m: Manifest, names: string[], defaultSchema: string): Set<string> | null {
  if (names.length === 0) return null;
  const all = m.tables.map((t) => `${t.schema}.${t.name}`);
  const out = new Set<string>();
  for (const n of names) {
    const hit = all.includes(n) ? n : all.includes(`${defaultSchema}.${n}`) ? `${defaultSchema}.${n}` : all.filter((a) => a.endsWith(`.${n}`)).length === 1 ? all.find((a) => a.endsWith(`.${n}`))! : null;
    if (!hit) throw new NotFoundError('table', `table ${n} is not in backup ${m.id}`, { hint: `choose among: ${all.slice(0, 20).join(', ')}` });
    out.add(hit);
  }
  return out;
}

/**
 * `axisor-db restore`: verify every checksum of the chain first, restore into a fresh side database, and only
 * when everything succeeded rename it to the target (dropping the old target with --clean). A failure at any
 * step drops the side database and leaves the target exactly as it was.
 */
export async function runRestore(input: RestoreInput, ctx: ServiceContext): Promise<RestoreResult> {
  return restoreChain(ctx.config, { ...input, env: ctx.env, onProgress: ctx.onProgress, signal: ctx.signal });
}

async function restoreChain(config: AxisorConfig, o: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  if (!o.id && !o.latest) throw new UsageError('name a backup id, or pass --latest', { hint: 'axisor-db backup list shows the ids' });
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new UsageError(`--jobs must be a positive integer (got ${o.jobs})`);
  sweepTempDirsOnce();
  const plan = await planRestore(config, o);
  const failure: FailureContext = { what: `restore into ${o.targetDb}`, outcome: 'the target was not changed', server: `${config.connection.host}:${config.connection.port}`, connected: false };
  try {
    return await withClient(config, async (admin) => {
      failure.connected = true;
      const exists = await checkTarget(admin, config, o);
      const swept = await sweepSideDatabases(admin).catch((err) => ({ dropped: [] as string[], problems: [`could not look for side databases of killed runs: ${(err as Error).message}`] }));
      plan.warnings.push(...swept.problems);
      o.onProgress?.({ phase: 'checksums', message: `${plan.chain.length} backup(s)` });
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const reports = await assertChainIntact(plan.chain, o.onProgress);
      const phases: Record<string, number> = { checksumsMs: Math.round(performance.now() - t0) };
      const loaded = await loadAndSwap(admin, config, o, plan, exists, phases);
      const cpu = process.cpuUsage(cpu0);
      phases.nodeCpuMs = Math.round((cpu.user + cpu.system) / 1000);
      return restoreResult(o, plan, { exists, loaded, reports, sweptDatabases: swept.dropped, phases, started });
    }, { applicationName: 'axisor-db restore', statementTimeoutMs: 0, database: o.maintenanceDb });
  } catch (err) {
    throw await classifyFailure(err, failure);
  }
}

/** What to restore, decided from the backup catalog alone (nothing on the server yet). */
interface RestorePlan {
  chain: Array<{ dir: string; manifest: Manifest }>;
  toTimeMicros: bigint | null;
  only: Set<string> | null;
  schemaOnly: boolean;
  warnings: string[];
}

/** The chain to restore, authenticated, trimmed to --to-time, and the tables of --table: every refusal before any database is touched. */
async function planRestore(config: AxisorConfig, o: RestoreOptions): Promise<RestorePlan> {
  const picked = o.id ? await findBackup(config.backupDir, o.id) : await findLatest(config.backupDir, config.connection.database);
  let chain = await resolveChain(config.backupDir, picked.manifest.id);
  // Wrong or no key for an encrypted backup, or a manifest that fails its MAC: refused before anything is created.
  await authenticateChain(chain, o.encryptionKey ?? null);
  if (chain[0]!.manifest.type === 'schema-only' && chain.length > 1) throw new RefusedError('schema_chain', 'a schema-only backup cannot start a chain');
  let toTimeMicros: bigint | null = null;
  if (o.toTime) {
    try {
      toTimeMicros = timestampMicros(o.toTime);
    } catch {
      throw new UsageError(`--to-time '${o.toTime}' is not a timestamp`, { hint: "use ISO 8601, e.g. --to-time '2025-01-26T14:30:00Z'" });
    }
    const base = chain[0]!.manifest;
    if (toTimeMicros < timestampMicros(base.consistentAt)) {
      throw new RefusedError('to_time_before_backup', `--to-time ${o.toTime} is before backup ${base.id} was consistent (${base.consistentAt})`, { hint: 'restore an older chain, or a later --to-time' });
    }
    chain = trimChainToTime(chain, toTimeMicros);
    // A --to-time inside a table's life between two incrementals (its changes were not captured) is refused here,
    // before any database is created, not after the base was loaded.
    assertToTimeReplayable(chain.map((l) => l.manifest), toTimeMicros);
  }
  const only = resolveTables(chain[0]!.manifest, o.tables, config.schema);
  const schemaOnly = chain[0]!.manifest.type === 'schema-only';
  const warnings: string[] = [];
  if (schemaOnly) warnings.push(`backup ${chain[0]!.manifest.id} is schema-only: this restore creates the schema and restores NO rows`);
  return { chain, toTimeMicros, only, schemaOnly, warnings };
}

/** Incrementals whose first commit is after `toTimeMicros` are not needed: the chain up to the last one that may hold changes before it. */
export function trimChainToTime<T extends { manifest: Pick<Manifest, 'commitTimes'> }>(chain: T[], toTimeMicros: bigint): T[] {
  const firstAfter = chain.findIndex((l, i) => i > 0 && l.manifest.commitTimes?.first && timestampMicros(l.manifest.commitTimes.first) > toTimeMicros);
  return firstAfter > 0 ? chain.slice(0, firstAfter) : chain;
}

/** The cheap refusals about the target, before any file is read or anything is created. Returns whether it exists. */
async function checkTarget(admin: pg.Client, config: AxisorConfig, o: RestoreOptions): Promise<boolean> {
  await assertRestorableTarget(admin, o.targetDb);
  const exists = await databaseExists(admin, o.targetDb);
  // Renaming and dropping the replaced target needs its owner (or a superuser): refused here, not after the work.
  if (exists && o.clean) await assertMayReplace(admin, o.targetDb);
  if (exists) {
    await assertNoSessions(admin, o.targetDb);
    const objects = await withClient(withDatabase(config.connection, o.targetDb), countUserObjects, { applicationName: 'axisor-db restore' });
    if (objects > 0 && !o.clean) {
      throw new RefusedError('target_not_empty', `database ${o.targetDb} is not empty (${objects} relations)`, { hint: 'pass --clean to replace it (it is dropped only after the restore succeeded), or choose another --target-db' });
    }
  }
  return exists;
}

/** Creates the side database, loads the chain into it and swaps it into the target's place; on any failure the side database is dropped. */
async function loadAndSwap(admin: pg.Client, config: AxisorConfig, o: RestoreOptions, plan: RestorePlan, exists: boolean, phases: Record<string, number>): Promise<LoadResult> {
  let t0 = performance.now();
  const side = sideName(o.targetDb, 'restore');
  await mapPrivilege({ role: config.connection.user, action: `create the database the restore goes into (${side})` }, () => createDatabase(admin, side, plan.chain[0]!.manifest.encoding, 'restore', o.targetDb));
  phases.createMs = Math.round(performance.now() - t0);
  try {
    const loaded = await loadChain(side, plan.chain, { config, env: o.env, jobs: o.jobs, only: plan.only, toTimeMicros: plan.toTimeMicros, noOwner: o.noOwner, noAcl: o.noAcl, targetName: o.targetDb, onProgress: o.onProgress, signal: o.signal, encryptionKey: o.encryptionKey });
    Object.assign(phases, loaded.phases);
    o.onProgress?.({ phase: 'swap', message: o.targetDb });
    t0 = performance.now();
    await swapIntoTarget(admin, side, o.targetDb, exists);
    phases.swapMs = Math.round(performance.now() - t0);
    return loaded;
  } catch (err) {
    await dropDatabase(admin, side).catch(() => {});
    throw err;
  }
}

function restoreResult(o: RestoreOptions, plan: RestorePlan, d: {
  exists: boolean; loaded: LoadResult; reports: Array<{ files: number; bytes: number }>; sweptDatabases: string[]; phases: Record<string, number>; started: number;
}): RestoreResult {
  const { chain, only, schemaOnly, toTimeMicros, warnings } = plan;
  const { loaded, reports } = d;
  warnings.push(...loaded.warnings);
  if (loaded.notValidForeignKeys.length > 0) {
    warnings.push(`the backed-up data violates ${loaded.notValidForeignKeys.length} foreign key(s), created NOT VALID: ${loaded.notValidForeignKeys.map((f) => `${f.table}.${f.constraint}`).join(', ')}; run \`axisor-db validate\` on ${o.targetDb} to list the rows`);
  }
  const m = chain[0]!.manifest;
  const last = chain[chain.length - 1]!.manifest;
  const kept = (t: { schema: string; name: string }) => !only || only.has(`${t.schema}.${t.name}`);
  return {
    id: last.id, chain: chain.map((l) => l.manifest.id), targetDb: o.targetDb, replacedExisting: d.exists,
    tables: m.tables.filter(kept).map((t) => ({ schema: t.schema, name: t.name })),
    toTime: toTimeMicros === null ? null : microsToIso(toTimeMicros), replay: loaded.replay, droppedForeignKeys: loaded.droppedForeignKeys,
    notValidForeignKeys: loaded.notValidForeignKeys, schemaOnly, rows: schemaOnly ? 0 : last.tables.filter(kept).reduce((s, t) => s + t.rows, 0),
    sweptDatabases: d.sweptDatabases, skippedExtensions: loaded.skippedExtensions, warnings,
    checkedFiles: reports.reduce((s, r) => s + r.files, 0), checkedBytes: reports.reduce((s, r) => s + r.bytes, 0), durationMs: Date.now() - d.started, phases: d.phases,
  };
}

/** A target with open sessions cannot be renamed away or replaced: refuse before any work (77), naming them. */
async function assertNoSessions(admin: pg.Client, target: string): Promise<void> {
  const { rows } = await admin.query<{ n: number; apps: string | null }>(
    `SELECT count(*)::int AS n, string_agg(DISTINCT coalesce(nullif(application_name, ''), usename::text, 'unknown'), ', ') AS apps
       FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [target]);
  const { n, apps } = rows[0]!;
  if (n > 0) {
    throw new RefusedError('target_busy', `database ${target} has ${n} open session(s) (${apps}); it cannot be replaced while they are connected`, {
      hint: `disconnect them (applications, psql; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${target.replace(/'/g, "''")}') and retry; nothing was changed`,
    });
  }
}

/** The hint for a target this role may not rename or drop. */
function ownerHint(role: string, target: string): string {
  return `run the restore as the owner of ${target} (or a superuser), or as a DBA (once): ALTER DATABASE ${displayIdent(target)} OWNER TO ${displayIdent(role)};`;
}

/**
 * restore --clean renames the target away and drops it: only its owner (or a superuser) may. Read from pg_database
 * (any role can) before anything is read or created, instead of failing after the whole restore.
 */
async function assertMayReplace(admin: pg.Client, target: string): Promise<void> {
  const { rows } = await admin.query<{ role: string; owner: string; ok: boolean }>(
    `SELECT current_user::text AS role, pg_get_userbyid(d.datdba)::text AS owner,
            pg_has_role(current_user, d.datdba, 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS ok
       FROM pg_database d WHERE d.datname = $1`, [target]);
  const r = rows[0];
  if (!r || r.ok) return;
  throw new PrivilegeError('owner', `role "${r.role}" may not replace database ${target} (owned by ${r.owner}): --clean renames it away and drops it, which needs its owner; nothing was changed`, {
    hint: ownerHint(r.role, target), details: { role: r.role, object: `database ${target}`, sql: `ALTER DATABASE ${displayIdent(target)} OWNER TO ${displayIdent(r.role)};` },
  });
}

/** A failed RENAME/DROP of a database: busy (55006) is 77, a missing ownership 67, anything else as it is. */
function swapFailure(err: unknown, admin: pg.Client, target: string, what: string): unknown {
  const code = (err as { code?: string }).code;
  if (code === '55006') {
    return new RefusedError('target_busy', `cannot ${what} ${target}: ${(err as Error).message}`, { hint: 'disconnect its sessions (applications, psql) and retry; the target was not changed' });
  }
  const role = (admin as unknown as { user?: string }).user ?? 'current_user';
  const priv = toPrivilegeError(err, { role, action: `${what} ${target}` });
  if (priv && /must be owner of database/i.test((err as Error).message)) {
    return new PrivilegeError('owner', priv.message, { hint: ownerHint(role, target), details: priv.details, cause: err });
  }
  return priv ?? err;
}

/**
 * Puts the restored side database in the target's place in one transaction (ALTER DATABASE RENAME is
 * transactional): either the old target keeps its name or the restored copy has it. The replaced database is
 * marked (so a kill before the DROP leaves it to the next run's sweep) and dropped; the restored one loses its mark.
 */
async function swapIntoTarget(admin: pg.Client, side: string, target: string, exists: boolean): Promise<void> {
  const old = exists ? sideName(target, 'old') : null;
  await withTransaction(admin, { mapErrors: false }, async () => {
    if (old) {
      await admin.query(`ALTER DATABASE ${quoteIdent(target)} RENAME TO ${quoteIdent(old)}`).catch((err) => {
        throw swapFailure(err, admin, target, 'replace');
      });
      await markSideDatabase(admin, old, 'replaced', target, true);
    }
    await admin.query(`ALTER DATABASE ${quoteIdent(side)} RENAME TO ${quoteIdent(target)}`);
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(target)} IS NULL`);
  });
  if (old) {
    await dropDatabase(admin, old).catch((err) => {
      // The restored copy is in place; only the replaced one (marked, so the next run sweeps it) is left over.
      throw swapFailure(err, admin, old, 'drop the replaced database');
    });
  }
}
