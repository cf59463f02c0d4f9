import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codecFor } from '../archive/compress.ts';
import { connectMidRun, fileSource, loadChunk } from '../archive/copy-stream.ts';
import { decryptFileTo, manifestEncryptionOf, openBackupFile } from '../archive/encryption.ts';
import { isRemoteDir } from '../archive/repo.ts';
import type { BackupKey } from '../crypto/key.ts';
import type { Manifest, TableEntry } from '../archive/manifest.ts';
import { runLimited } from '../run-limited.ts';
import type { AxisorConfig } from '../config/types.ts';
import { connectClient, withClient, withDatabase } from '../db/connect.ts';
import { displayIdent, qualifiedName, quoteIdent } from '../db/ident.ts';
import { AxisorError, PrerequisiteError } from '../errors.ts';
import { toDatabaseError } from '../db/errors.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { PUBLICATION } from '../archive/publication.ts';
import { findPgTool, runPgTool } from '../pgtools/index.ts';
import { makeOwnedTempDir } from '../pgtools/tempdirs.ts';
import type { ProgressFn } from '../progress.ts';
import { maintenanceWorkMemMb } from '../seed/bulk-load.ts';
import { replayChain, type ReplayStats } from './replay.ts';
import { filterTocList, planExtensionSkip, tocExtensions } from './toc.ts';

export interface LoadOptions {
  config: AxisorConfig;
  env: Readonly<Record<string, string | undefined>>;
  jobs: number;
  /** schema.table names to restore, or null for all. */
  only: Set<string> | null;
  toTimeMicros: bigint | null;
  /** pg_restore --no-owner: the restoring role owns everything (no membership of the source's owners needed). */
  noOwner: boolean;
  /** pg_restore --no-privileges: no GRANT/REVOKE of the source (its grantees need not exist here). */
  noAcl?: boolean;
  /** The database the user asked for (the side database `db` is renamed to it), for messages. */
  targetName?: string;
  /** Runs after the data is loaded and before indexes and constraints (the drill's fingerprint check). */
  afterData?: (db: string, tables: TableEntry[]) => Promise<void>;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** The key an encrypted chain was written with (checked by authenticateChain before anything was created). */
  encryptionKey?: BackupKey | null;
}

export interface NotValidForeignKey {
  table: string;
  constraint: string;
  /** The server's error when the constraint was created with validation (which rows break it). */
  reason: string;
}

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
 * Which of `names` the connected role may not create in the connected database, by the catalogs any role can
 * read (never by trying): a superuser creates all; otherwise an extension marked `superuser` and not `trusted`
 * is out, and the others need CREATE on the database. Extensions this server does not have are not listed here
 * (pg_restore then fails naming them: a missing package is not a privilege).
 */
export async function restoreCapabilities(c: import('pg').Client, names: string[]): Promise<{ superuser: boolean; cannotCreate: Array<{ name: string; why: string }> }> {
  const superuser = (await c.query<{ su: boolean }>('SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user')).rows[0]?.su ?? false;
  if (superuser || names.length === 0) return { superuser, cannotCreate: [] };
  const { rows } = await c.query<{ name: string; su: boolean; can_create: boolean; superuser: boolean | null; trusted: boolean | null }>(`
    SELECT n.name, r.rolsuper AS su, has_database_privilege(current_database(), 'CREATE') AS can_create, v.superuser, v.trusted
      FROM unnest($1::text[]) AS n(name)
      JOIN pg_available_extensions e ON e.name = n.name
      LEFT JOIN pg_available_extension_versions v ON v.name = e.name AND v.version = e.default_version
     CROSS JOIN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) r`, [names]);
  const out: Array<{ name: string; why: string }> = [];
  for (const r of rows) {
    if (r.su) continue;
    if (r.superuser && !r.trusted) out.push({ name: r.name, why: 'needs a superuser (not a trusted extension)' });
    else if (!r.can_create) out.push({ name: r.name, why: 'needs CREATE on the database' });
  }
  return { superuser, cannotCreate: out.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name)) };
}


/**
 * Restores a chain into an existing, empty database: schema before data (pg_restore --section=pre-data), the
 * data streams in parallel (decompressor | psql COPY), indexes and constraints (post-data, pg_restore -j),
 * then the incrementals' changes and the sequences in one transaction.
 */
export async function loadChain(db: string, chain: Array<{ dir: string; manifest: Manifest }>, o: LoadOptions): Promise<LoadResult> {
  const base = chain[0]!;
  const full = base.manifest;
  const conn = withDatabase(o.config.connection, db);
  const dumpMajor = Number(full.tools.pgDump.split('.')[0]);
  const pgRestore = await findPgTool('pg_restore', { minMajor: Number.isFinite(dumpMajor) ? dumpMajor : undefined, env: o.env });
  const encrypted = manifestEncryptionOf(full) !== null;
  const remote = isRemoteDir(base.dir);
  let schemaFile = remote ? '' : join(base.dir, 'schema.dump');
  const tables = full.tables.filter((t) => !o.only || o.only.has(`${t.schema}.${t.name}`));
  const listDir = makeOwnedTempDir('axisor-toc-');
  try {
    if (encrypted || remote) {
      // pg_restore needs a seekable local archive: the (schema-only, row-free) archive is fetched and decrypted
      // into the private temporary directory.
      const plain = join(listDir, 'schema.dump');
      await decryptFileTo(base.dir, 'schema.dump', o.encryptionKey ?? null, plain);
      schemaFile = plain;
    }
    const common = ['--exit-on-error'];
    if (o.noOwner) common.push('--no-owner');
    if (o.noAcl) common.push('--no-privileges');
    let droppedForeignKeys = 0;
    // -v: with each entry's dependencies, so what depends on a skipped extension is found (planExtensionSkip).
    const verbose = (await runPgTool(pgRestore, ['-l', '-v', schemaFile], undefined, { baseEnv: o.env })).stdout;
    // Extensions the role may not create are left out (with a warning) instead of failing the whole restore, and
    // the backup's own publication is never restored (see README, section Roles).
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
    let toc = plan.list;
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
    if (o.only) {
      const f = filterTocList(toc, full.tables, o.only);
      droppedForeignKeys = f.droppedForeignKeys;
      toc = f.list;
    }
    const tool = { baseEnv: o.env, privilege: { action: 'restore the schema', alternative: o.noOwner ? undefined : 'or pass --no-owner (the restoring role then owns every object)' } };
    const schemaStep = async <T>(fn: () => Promise<T>): Promise<T> => {
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
    // Foreign keys are created by us after the rest of post-data, so data that violates one (as the source's did)
    // still restores: the constraint is created NOT VALID and reported, instead of failing the whole restore.
    const { rest, foreignKeys } = splitForeignKeys(toc);
    const listFile = join(listDir, 'toc.list');
    writeFileSync(listFile, rest, { mode: 0o600 });
    common.push('-L', listFile);
    const fkListFile = join(listDir, 'fk.list');
    writeFileSync(fkListFile, foreignKeys, { mode: 0o600 });
    o.onProgress?.({ phase: 'schema', message: db });
    const phases: Record<string, number> = {};
    let t0 = performance.now();
    await schemaStep(() => runPgTool(pgRestore, ['--section=pre-data', ...common, '-d', db, schemaFile], conn, tool));
    phases.schemaMs = Math.round(performance.now() - t0);

    const codec = codecFor(full.compression);
    let done = 0;
    const total = tables.reduce((s, t) => s + t.chunks.length, 0);
    phases.frozenChunks = 0;
    const loadOne = async (t: TableEntry, file: string) => {
      // A table loaded by one stream is truncated and loaded in one transaction with COPY FREEZE (rows written
      // frozen and hinted: the index builds that read it next do not rewrite every page to set hint bits).
      const freeze = t.chunks.length === 1;
      await loadChunk({
        conn, encoding: full.encoding, env: o.env, codec,
        source: encrypted || remote ? await openBackupFile(base.dir, file, o.encryptionKey ?? null, { size: full.files.find((f) => f.path === file)?.bytes }) : fileSource(join(base.dir, file)),
        table: qualifiedName(t.schema, t.name), columns: t.columns.map(quoteIdent).join(', '), freeze,
      });
      if (freeze) phases.frozenChunks!++;
      o.onProgress?.({ phase: 'data', done: ++done, total, unit: 'items', message: `${t.schema}.${t.name}` });
    };
    const tasks = tables.flatMap((t) => t.chunks.map((c) => ({ t, c }))).sort((a, b) => b.c.rawBytes - a.c.rawBytes).map(({ t, c }) => () => loadOne(t, c.file));
    t0 = performance.now();
    await runLimited(tasks, o.jobs, o.signal);
    phases.dataMs = Math.round(performance.now() - t0);
    if (o.afterData) {
      t0 = performance.now();
      await o.afterData(db, tables);
      phases.afterDataMs = Math.round(performance.now() - t0);
    }

    o.onProgress?.({ phase: 'indexes', message: 'indexes and constraints' });
    t0 = performance.now();
    const mwm = maintenanceWorkMemMb(o.jobs);
    phases.maintenanceWorkMemMb = mwm;
    await schemaStep(() => runPgTool(pgRestore, ['--section=post-data', ...common, '-j', String(o.jobs), '-d', db, schemaFile], conn, { ...tool, baseEnv: { ...tool.baseEnv, PGOPTIONS: `-c maintenance_work_mem=${mwm}MB` } }));
    phases.indexesMs = Math.round(performance.now() - t0);
    t0 = performance.now();
    const notValidForeignKeys = foreignKeys.trim() === '' ? [] : await createForeignKeys(
      parseForeignKeyScript((await runPgTool(pgRestore, ['-f', '-', '-L', fkListFile, schemaFile], undefined, { baseEnv: o.env })).stdout),
      new Map(tables.map((t) => [`${t.schema}.${t.name}`, t.rows])), conn, o,
    );
    phases.foreignKeysMs = Math.round(performance.now() - t0);
    t0 = performance.now();

    const client = await connectMidRun(conn, 'axisor-db restore');
    try {
      await client.query('BEGIN');
      let replay: ReplayStats | null = null;
      let seqSource = full;
      if (chain.length > 1) {
        // PG15+: GRANT SET ON PARAMETER session_replication_role TO <role> (the restore role of README, section Roles).
        await mapPrivilege({ role: o.config.connection.user, database: db, action: 'replay the incremental changes with session_replication_role = replica', alternative: 'or restore only the full backup of the chain' },
          () => client.query('SET LOCAL session_replication_role = replica'));
        o.onProgress?.({ phase: 'replay', message: `${chain.length - 1} incremental backups` });
        replay = await replayChain(client, chain.slice(1), { codecFor: (m) => codecFor(m.compression), env: o.env, only: o.only, toTimeMicros: o.toTimeMicros, tables: full.tables, encryptionKey: o.encryptionKey });
        seqSource = chain[chain.length - 1]!.manifest;
      }
      await setSequences(client, seqSource);
      await client.query('COMMIT');
      phases.finishMs = Math.round(performance.now() - t0);
      return { tables: tables.length, rows: tables.reduce((s, t) => s + t.rows, 0), chunks: total, replay, droppedForeignKeys, notValidForeignKeys, phases, skippedExtensions: skipped.map((x) => x.name), warnings };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      await client.end().catch(() => {});
    }
  } finally {
    rmSync(listDir, { recursive: true, force: true });
  }
}

/** Splits a pg_restore -l list into the foreign-key entries and everything else (both keep the header lines). */
export function splitForeignKeys(list: string): { rest: string; foreignKeys: string } {
  const rest: string[] = [];
  const fks: string[] = [];
  for (const line of list.split('\n')) (/^\d+; \d+ \d+ FK CONSTRAINT /.test(line) ? fks : rest).push(line);
  return { rest: `${rest.join('\n')}\n`, foreignKeys: fks.length ? `${fks.join('\n')}\n` : '' };
}

export interface ForeignKeyStatement {
  table: string;
  constraint: string;
  sql: string;
}

/** The ALTER TABLE ... ADD CONSTRAINT statements of a pg_restore -f - script of FK CONSTRAINT entries. */
export function parseForeignKeyScript(script: string): ForeignKeyStatement[] {
  const out: ForeignKeyStatement[] = [];
  for (const block of script.split('\n--\n-- Name: ').slice(1)) {
    const head = /^(.*?); Type: FK CONSTRAINT; Schema: (.*?); Owner:/.exec(block);
    const start = block.indexOf('\nALTER TABLE ');
    if (!head || start === -1) continue;
    const end = block.indexOf(';\n', start);
    if (end === -1) continue;
    const sql = block.slice(start + 1, end + 1);
    const names = head[1]!;
    const constraint = /ADD CONSTRAINT ("(?:[^"]|"")+"|\S+)/.exec(sql)?.[1]?.replace(/^"|"$/g, '').replace(/""/g, '"') ?? names;
    const table = names.endsWith(` ${constraint}`) ? names.slice(0, -constraint.length - 1) : names;
    out.push({ table: `${head[2]}.${table}`, constraint, sql });
  }
  return out;
}

/**
 * The order foreign keys are created in: ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on its table, which conflicts
 * with itself, so two keys of the same table never build at the same time; parallel sessions would just queue on
 * the big table. So the keys of one table form one group (run one after the other in one session), and the groups
 * run in parallel, biggest table first (its scans bound the phase; the small tables' keys fill the other sessions).
 */
export function scheduleForeignKeys(fks: ForeignKeyStatement[], rowsByTable: ReadonlyMap<string, number>): ForeignKeyStatement[][] {
  const groups = new Map<string, ForeignKeyStatement[]>();
  for (const fk of fks) {
    const g = groups.get(fk.table);
    if (g) g.push(fk);
    else groups.set(fk.table, [fk]);
  }
  const weight = (t: string) => (rowsByTable.get(t) ?? 0) * groups.get(t)!.length;
  return [...groups.keys()].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b)).map((t) => groups.get(t)!);
}

/**
 * Creates the foreign keys (in parallel sessions, grouped by table: see scheduleForeignKeys). One that the data violates (SQLSTATE 23503) is
 * created NOT VALID instead: new rows are checked, the existing violators stay and are reported, and
 * `axisor-db validate` lists them. Any other failure fails the restore.
 */
async function createForeignKeys(fks: ForeignKeyStatement[], rowsByTable: ReadonlyMap<string, number>, conn: import('../config/types.ts').ConnectionSettings, o: LoadOptions): Promise<NotValidForeignKey[]> {
  const notValid: NotValidForeignKey[] = [];
  o.onProgress?.({ phase: 'foreign keys', message: `${fks.length} foreign keys` });
  const clients = await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs, fks.length)) }, () => connectMidRun(conn, 'axisor-db restore')));
  try {
    for (const c of clients) await c.query(`SELECT pg_catalog.set_config('search_path', '', false), pg_catalog.set_config('maintenance_work_mem', '${maintenanceWorkMemMb(o.jobs)}MB', false)`);
    const free = [...clients];
    await runLimited(scheduleForeignKeys(fks, rowsByTable).map((group) => async () => {
      const c = free.pop()!;
      try {
        for (const fk of group) {
          try {
            await c.query(fk.sql);
          } catch (err) {
            if ((err as { code?: string }).code !== '23503') throw toDatabaseError(err, `creating foreign key ${fk.constraint} on ${fk.table}`);
            const e = err as { message: string; detail?: string };
            await c.query(fk.sql.replace(/;\s*$/, ' NOT VALID;'));
            notValid.push({ table: fk.table, constraint: fk.constraint, reason: `${e.message}${e.detail ? `: ${e.detail}` : ''}` });
          }
        }
      } finally {
        free.push(c);
      }
    }), clients.length, o.signal);
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
  return notValid.sort((a, b) => `${a.table}.${a.constraint}`.localeCompare(`${b.table}.${b.constraint}`));
}

/** Sequences end at least at their backed-up values (never lower than what the restored data already used). */
async function setSequences(client: import('pg').Client, m: Manifest): Promise<void> {
  for (const s of m.sequences) {
    const reg = (await client.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [qualifiedName(s.schema, s.name)])).rows[0]?.r;
    if (!reg) continue; // not restored (--table)
    await client.query(`SELECT setval($1::regclass, greatest($2::bigint, (SELECT last_value FROM ${qualifiedName(s.schema, s.name)})), $3)`, [qualifiedName(s.schema, s.name), s.lastValue, s.isCalled]);
  }
}
