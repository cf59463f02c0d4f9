import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { codecFor } from '../archive/compress.ts';
import { decryptFileTo, manifestEncryptionOf } from '../archive/encryption.ts';
import type { Manifest } from '../archive/manifest.ts';
import { PUBLICATION } from '../archive/publication.ts';
import { isRemoteDir } from '../archive/repo.ts';
import type { ConnectionSettings } from '../config/types.ts';
import { connectMidRun, withClient, withDatabase } from '../db/connect.ts';
import { displayIdent, qualifiedName } from '../db/ident.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { withSessionPool } from '../db/session-pool.ts';
import { withTransaction } from '../db/transaction.ts';
import { AxisorError, PrerequisiteError } from '../errors.ts';
import { findPgTool, runPgTool, type PgTool } from '../pgtools/index.ts';
import { makeOwnedTempDir } from '../pgtools/tempdirs.ts';
import { restoreCapabilities } from './capabilities.ts';
import { splitForeignKeys, type NotValidForeignKey } from './foreign-keys.ts';
import type { Chain, LoadOptions, LoadRun } from './load-run.ts';
import { replayChain, type ReplayStats } from './replay.ts';
import { runTasks } from '../tasks.ts';
import { locksConflict, withRanks } from './schedule.ts';
import { filterTocList, planExtensionSkip, tocExtensions } from './toc.ts';
import { buildWork, type WorkGraph } from './work.ts';

export type { LoadOptions } from './load-run.ts';

export interface LoadResult {
  tables: number;
  rows: number;
  chunks: number;
  replay: ReplayStats | null;
  droppedForeignKeys: number;
  /** Foreign keys the restored data violates (as the source did): created NOT VALID instead of failing the restore. */
  notValidForeignKeys: NotValidForeignKey[];
  /** Where the time went (ms; see docs/performance.md): schemaMs, dataMs, frozenChunks, indexesMs, foreignKeysMs, finishMs. */
  phases: Record<string, number>;
  /** Extensions of the backup the restoring role may not create (not restored; see restoreCapabilities). */
  skippedExtensions: string[];
  /** One sentence per thing left out, for the command's warnings. */
  warnings: string[];
}

/**
 * Restores a chain into an existing, empty database: schema before data (pg_restore --section=pre-data), then
 * `jobs` sessions work through the data streams (COPY FROM, FREEZE where one session loads the table), each
 * table's indexes and constraints as soon as its rows are in, and the foreign keys once both of their tables are
 * (schedule.ts: dependencies, PostgreSQL's lock conflicts, critical path first), the rest of post-data through
 * pg_restore; then the incrementals' changes and the sequences in one transaction. With `afterData` (the drill),
 * nothing of post-data starts before every stream has finished and the hook has run.
 */
export async function loadChain(db: string, chain: Chain, o: LoadOptions): Promise<LoadResult> {
  const dumpMajor = Number(chain[0]!.manifest.tools.pgDump.split('.')[0]);
  const pgRestore = await findPgTool('pg_restore', { minMajor: Number.isFinite(dumpMajor) ? dumpMajor : undefined, env: o.env });
  const listDir = makeOwnedTempDir('axisor-toc-');
  try {
    const r = await prepareSchema(db, chain, o, pgRestore, listDir);
    const g = await buildWork(r);
    const notValidForeignKeys = await runWork(r, g);
    const replay = await finishRestore(r);
    return { tables: r.tables.length, rows: r.tables.reduce((s, t) => s + t.rows, 0), chunks: g.chunks, replay, droppedForeignKeys: r.droppedForeignKeys,
      notValidForeignKeys, phases: r.phases, skippedExtensions: r.skipped.map((x) => x.name), warnings: r.warnings };
  } finally {
    rmSync(listDir, { recursive: true, force: true });
  }
}

/**
 * The schema before the data: the archive made local, its TOC planned (extensions the role may not create, the
 * backup's publication, --table), the foreign keys set apart, and pre-data restored through pg_restore.
 */
async function prepareSchema(db: string, chain: Chain, o: LoadOptions, pgRestore: PgTool, listDir: string): Promise<LoadRun> {
  const full = chain[0]!.manifest;
  const conn = withDatabase(o.config.connection, db);
  const tables = full.tables.filter((t) => !o.only || o.only.has(`${t.schema}.${t.name}`));
  const schemaFile = await localSchemaFile(chain[0]!.dir, full, o, listDir);
  const common = ['--exit-on-error'];
  if (o.noOwner) common.push('--no-owner');
  if (o.noAcl) common.push('--no-privileges');
  // -v: with each entry's dependencies, so what depends on a skipped extension is found (planExtensionSkip).
  const verbose = (await runPgTool(pgRestore, ['-l', '-v', schemaFile], undefined, { baseEnv: o.env })).stdout;
  const toc = await planToc(db, o, conn, verbose, full);
  const tool = { baseEnv: o.env, privilege: { action: 'restore the schema', alternative: o.noOwner ? undefined : 'or pass --no-owner (the restoring role then owns every object)' } };
  // Foreign keys are created by us after the rest of post-data, so data that violates one (as the source's did)
  // still restores: the constraint is created NOT VALID and reported, instead of failing the whole restore.
  const { rest, foreignKeys } = splitForeignKeys(toc.list);
  const listFile = join(listDir, 'toc.list');
  writeFileSync(listFile, rest, { mode: 0o600 });
  common.push('-L', listFile);
  const fkListFile = join(listDir, 'fk.list');
  writeFileSync(fkListFile, foreignKeys, { mode: 0o600 });
  const r: LoadRun = { db, o, chain, full, conn, pgRestore, schemaFile, listDir, common, listFile, rest, fkListFile, foreignKeys, verbose, tables, phases: {},
    warnings: toc.warnings, skipped: toc.skipped, droppedForeignKeys: toc.droppedForeignKeys, schemaStep: schemaStepFor(o, toc.skipped), tool };
  o.onProgress?.({ phase: 'schema', message: db });
  const t0 = performance.now();
  await r.schemaStep(() => runPgTool(pgRestore, ['--section=pre-data', ...common, '-d', db, schemaFile], conn, tool));
  r.phases.schemaMs = Math.round(performance.now() - t0);
  return r;
}

/** The schema archive as a local plain file: pg_restore needs a seekable one. */
async function localSchemaFile(dir: string, full: Manifest, o: LoadOptions, listDir: string): Promise<string> {
  if (manifestEncryptionOf(full) === null && !isRemoteDir(dir)) return join(dir, 'schema.dump');
  // The (schema-only, row-free) archive is fetched and decrypted into the private temporary directory.
  const plain = join(listDir, 'schema.dump');
  await decryptFileTo(dir, 'schema.dump', o.encryptionKey ?? null, plain);
  return plain;
}

/**
 * The TOC list to restore: extensions the role may not create are left out (with a warning) instead of failing
 * the whole restore, and the backup's own publication is never restored (see README, section Roles); --table
 * keeps its tables (and drops the foreign keys to the others).
 */
async function planToc(db: string, o: LoadOptions, conn: ConnectionSettings, verbose: string, full: Manifest):
    Promise<{ list: string; skipped: Array<{ name: string; why: string }>; warnings: string[]; droppedForeignKeys: number }> {
  const caps = await withClient(conn, (c) => restoreCapabilities(c, tocExtensions(verbose)), { applicationName: 'axisor-db restore' });
  const skipped = caps.cannotCreate;
  const plan = planExtensionSkip(verbose, { extensions: skipped.map((x) => x.name), publications: [PUBLICATION], superuser: caps.superuser || Boolean(o.noAcl),
    defaultAclsOnlyOf: o.noOwner && !caps.superuser && !o.noAcl ? o.config.connection.user : undefined,
  });
  const role = o.config.connection.user;
  const createSql = skipped.map((x) => `CREATE EXTENSION ${displayIdent(x.name)};`).join(' ');
  if (plan.blockingTables.length > 0) {
    throw new PrerequisiteError('extension_required', `${plan.blockingTables.join(', ')} use${plan.blockingTables.length === 1 ? 's' : ''} extension(s) ${skipped.map((x) => `${x.name} (${x.why})`).join(', ')}, which role ${role} may not create; leaving ${plan.blockingTables.length === 1 ? 'it' : 'them'} out would lose data`, {
      hint: `restore as a superuser (or a role that may create ${skipped.map((x) => x.name).join(', ')}); nothing was changed`,
    });
  }
  const warnings: string[] = [];
  if (skipped.length > 0) {
    warnings.push(`not restored: extension(s) ${skipped.map((x) => `${x.name} (${x.why})`).join(', ')}, which role ${role} may not create`
      + `${plan.droppedDependents.length ? `, and what uses them: ${plan.droppedDependents.join(', ')}` : ''}; to have them, a superuser runs ${createSql} in ${o.targetName ?? db} afterwards`);
  }
  if (plan.droppedMemberGrants.length > 0) {
    warnings.push(`not restored: ${plan.droppedMemberGrants.join(', ')} (objects of extensions or of the system, owned by a superuser: only a superuser may grant on them)`);
  }
  if (plan.droppedDefaultAcls.length > 0) {
    warnings.push(`not restored (--no-owner): ${plan.droppedDefaultAcls.join(', ')}; they need membership of those roles (GRANT <role> TO ${role};), or run ALTER DEFAULT PRIVILEGES on ${o.targetName ?? db} as them`);
  }
  if (!o.only) return { list: plan.list, skipped, warnings, droppedForeignKeys: 0 };
  const f = filterTocList(plan.list, full.tables, o.only);
  return { list: f.list, skipped, warnings, droppedForeignKeys: f.droppedForeignKeys };
}

/** Runs a pg_restore step; a failure that a flag, a role or a skipped extension explains says so. */
function schemaStepFor(o: LoadOptions, skipped: Array<{ name: string; why: string }>): <T>(fn: () => Promise<T>) => Promise<T> {
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      // A grantee or owner of the source that does not exist on this server: say which flag leaves them out.
      const missingRole = err instanceof AxisorError && err.code.startsWith('tool.') ? /role "([^"]+)" does not exist/.exec(err.message)?.[1] : undefined;
      if (missingRole) {
        throw new PrerequisiteError('role_missing', `${err instanceof Error ? err.message : String(err)}; the backup names role ${missingRole}, which does not exist on this server`, {
          hint: `create it here (CREATE ROLE ${displayIdent(missingRole)};), or pass --no-owner (owners) and --no-acl (grants); nothing was changed`, cause: err,
        });
      }
      // An object that needs a skipped extension and that the archive does not tie to it (a SQL function's body) names it.
      if (skipped.length > 0 && err instanceof AxisorError && err.code.startsWith('tool.') && /(function|type|relation|operator(?: class)?|schema) .* does not exist/i.test(err.message)) {
        throw new PrerequisiteError('extension_dependents', `${err.message}; this may use extension(s) ${skipped.map((x) => x.name).join(', ')}, which role ${o.config.connection.user} may not create and which were left out`, {
          hint: `restore as a superuser (or a role that may create ${skipped.map((x) => x.name).join(', ')}); nothing was changed`, cause: err,
        });
      }
      throw err;
    }
  };
}

/**
 * Runs the work graph over `jobs` sessions (critical path first, schedule.ts) and records where the time went.
 * Returns the foreign keys left NOT VALID.
 */
async function runWork(r: LoadRun, g: WorkGraph): Promise<NotValidForeignKey[]> {
  const { o, phases } = r;
  const dataLeft = new Set(g.allData);
  // AXISOR_RESTORE_TRACE=<file>: one line per task (start ms, end ms, task), for measurements (docs/performance.md).
  const trace = o.env.AXISOR_RESTORE_TRACE;
  const marks: Record<string, number> = {};
  const t0 = performance.now();
  // search_path empty as pg_restore's own sessions have it: the statements are its script's, schema-qualified.
  const settings: Array<[string, string]> = [['search_path', ''], ...g.sessionSettings];
  await withSessionPool(r.conn, { applicationName: 'axisor-db restore', settings }, (sessions) => runTasks(withRanks(g.work), o.jobs, async (w, running) => {
    if (w.id.startsWith('post:') && marks.postStart === undefined) {
      marks.postStart = performance.now();
      o.onProgress?.({ phase: 'indexes', message: 'indexes and constraints' });
    }
    if (w.id.startsWith('fk') && marks.fkStart === undefined) {
      marks.fkStart = performance.now();
      o.onProgress?.({ phase: 'foreign keys', message: `${g.foreignKeys} foreign keys` });
    }
    const s0 = performance.now();
    // The sessions idle at its start, counted once the runner has started everything it can at this moment (its
    // loop starts tasks synchronously; this resumes after it). A task of less than a tenth of this one's cost
    // counts as idle: the small tables' last items end within a second, while the big table's key builds alone.
    await Promise.resolve();
    const idle = Math.max(0, o.jobs - running.filter((x) => x === w || x.cost >= w.cost / 10).length);
    await sessions.lend((session) => w.run(session, idle));
    const now = performance.now();
    if (trace) appendFileSync(trace, `${Math.round(s0 - t0)}\t${Math.round(now - t0)}\t${w.id}\n`);
    if (dataLeft.delete(w.id) && dataLeft.size === 0) marks.dataEnd = now;
    if (w.id.startsWith('post:')) marks.postEnd = now;
    if (w.id.startsWith('fk')) marks.fkEnd = now;
  }, { conflicts: locksConflict, signal: o.signal }));
  const end = performance.now();
  const notValid = g.notValid.sort((a, b) => `${a.table}.${a.constraint}`.localeCompare(`${b.table}.${b.constraint}`));
  // The phases overlap now: dataMs is from the start to the last stream's end, indexesMs and foreignKeysMs
  // from their first start to their last end; restoreWorkMs is the wall time of all three together.
  phases.dataMs = Math.round((marks.dataEnd ?? t0) - t0);
  phases.indexesMs = marks.postStart === undefined ? 0 : Math.round(marks.postEnd! - marks.postStart);
  phases.foreignKeysMs = marks.fkStart === undefined ? 0 : Math.round(marks.fkEnd! - marks.fkStart);
  phases.restoreWorkMs = Math.round(end - t0);
  phases.postDataItems = g.postDataItems;
  return notValid;
}

/** The incrementals' changes and the sequences in one transaction: all of them or none. */
async function finishRestore(r: LoadRun): Promise<ReplayStats | null> {
  const { o, chain, full, db } = r;
  const t0 = performance.now();
  const client = await connectMidRun(r.conn, 'axisor-db restore');
  try {
    const replay = await withTransaction(client, { mapErrors: false }, async () => {
      let stats: ReplayStats | null = null;
      let seqSource = full;
      if (chain.length > 1) {
        // PG15+: GRANT SET ON PARAMETER session_replication_role TO <role> (the restore role of README, section Roles).
        await mapPrivilege({ role: o.config.connection.user, database: db, action: 'replay the incremental changes with session_replication_role = replica', alternative: 'or restore only the full backup of the chain' },
          () => client.query('SET LOCAL session_replication_role = replica'));
        o.onProgress?.({ phase: 'replay', message: `${chain.length - 1} incremental backups` });
        stats = await replayChain(client, chain.slice(1), { codecFor: (m) => codecFor(m.compression), env: o.env, only: o.only, toTimeMicros: o.toTimeMicros, tables: full.tables, encryptionKey: o.encryptionKey });
        seqSource = chain[chain.length - 1]!.manifest;
      }
      await setSequences(client, seqSource);
      return stats;
    });
    r.phases.finishMs = Math.round(performance.now() - t0);
    return replay;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Sequences end at least at their backed-up values (never lower than what the restored data already used). */
async function setSequences(client: Client, m: Manifest): Promise<void> {
  for (const s of m.sequences) {
    const reg = (await client.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [qualifiedName(s.schema, s.name)])).rows[0]?.r;
    if (!reg) continue; // not restored (--table)
    await client.query(`SELECT setval($1::regclass, greatest($2::bigint, (SELECT last_value FROM ${qualifiedName(s.schema, s.name)})), $3)`, [qualifiedName(s.schema, s.name), s.lastValue, s.isCalled]);
  }
}
