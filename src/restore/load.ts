import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { codecFor } from '../archive/compress.ts';
import { connectMidRun, fileSource, loadChunk } from '../archive/copy-stream.ts';
import { decryptFileTo, manifestEncryptionOf, openBackupFile } from '../archive/encryption.ts';
import { isRemoteDir } from '../archive/repo.ts';
import type { BackupKey } from '../crypto/key.ts';
import type { Manifest, TableEntry } from '../archive/manifest.ts';
import { runLimited } from '../run-limited.ts';
import type { AxisorConfig } from '../config/types.ts';
import { connectClient, withClient, withDatabase } from '../db/connect.ts';
import { withTransaction } from '../db/transaction.ts';
import { displayIdent, qualifiedName, quoteIdent } from '../db/ident.ts';
import { AxisorError, PrerequisiteError } from '../errors.ts';
import { toDatabaseError } from '../db/errors.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { PUBLICATION } from '../archive/publication.ts';
import { findPgTool, runPgTool, type PgTool } from '../pgtools/index.ts';
import { makeOwnedTempDir } from '../pgtools/tempdirs.ts';
import type { ProgressFn } from '../progress.ts';
import { maintenanceWorkMemMb } from '../seed/bulk-load.ts';
import { replayChain, type ReplayStats } from './replay.ts';
import { filterTocList, planExtensionSkip, tocExtensions } from './toc.ts';
import { planPostData, postDataLock, runTasks, serialStreams, withRanks, type PostDataItem, type Task } from './schedule.ts';

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
 * Restores a chain into an existing, empty database: schema before data (pg_restore --section=pre-data), then
 * `jobs` sessions work through the data streams (COPY FROM, FREEZE where one session loads the table), each
 * table's indexes and constraints as soon as its rows are in, and the foreign keys once both of their tables are
 * (schedule.ts: dependencies, PostgreSQL's lock conflicts, critical path first), the rest of post-data through
 * pg_restore; then the incrementals' changes and the sequences in one transaction. With `afterData` (the drill),
 * nothing of post-data starts before every stream has finished and the hook has run.
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
    const open = async (file: string): Promise<Readable> => (encrypted || remote
      ? openBackupFile(base.dir, file, o.encryptionKey ?? null, { size: full.files.find((f) => f.path === file)?.bytes })
      : fileSource(join(base.dir, file)));
    // A table is truncated and loaded in one transaction with COPY FREEZE (rows written frozen and hinted: the
    // index builds that read it next do not rewrite every page to set hint bits) when it is loaded by one
    // session: its only stream, or all its streams one after the other (the files concatenated: zstd and gzip
    // decompress concatenated frames to the concatenated text). See serialStreams for when a split table is.
    const loadTable = async (t: TableEntry, files: string[], freeze: boolean) => {
      const source = files.length === 1 ? await open(files[0]!) : Readable.from((async function* () {
        for (const f of files) yield* await open(f);
      })());
      await loadChunk({ conn, encoding: full.encoding, env: o.env, codec, source, table: qualifiedName(t.schema, t.name), columns: t.columns.map(quoteIdent).join(', '), freeze });
      if (freeze) phases.frozenChunks! += files.length;
      done += files.length;
      o.onProgress?.({ phase: 'data', done, total, unit: 'items', message: `${t.schema}.${t.name}` });
    };

    // Post-data per table (indexes, constraints, triggers, policies, with their comments) so a small table's
    // indexes build while the big table still loads, as pg_restore -j does; the statements are pg_restore's own
    // (its script of those entries), run over our sessions. Anything the plan cannot place stays in `rest`.
    const post = await planPostDataSql(pgRestore, schemaFile, common.filter((a) => a !== '-L' && a !== listFile), rest, verbose, tables, o.env, listDir, full.encoding);
    const fks = foreignKeys.trim() === '' ? [] : parseForeignKeyScript((await runPgTool(pgRestore, ['-f', '-', '-L', fkListFile, schemaFile], undefined, { baseEnv: o.env, outputEncoding: full.encoding })).stdout);
    const mwm = maintenanceWorkMemMb(o.jobs);
    phases.maintenanceWorkMemMb = mwm;
    const key = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;
    const bytesOf = new Map(tables.map((t) => [key(t), t.chunks.reduce((s, c) => s + c.rawBytes, 0)]));
    const serial = serialStreams(tables.map((t) => ({ key: key(t), streams: t.chunks.map((c) => c.rawBytes) })), o.jobs);
    // Estimated costs (in bytes of COPY text; measured on seeded data, docs/performance.md): an index build or key
    // about an eighth of loading its table, a foreign-key validation about a twenty-fifth. withRanks turns them
    // into critical-path weights.
    type Work = Omit<Task, 'weight'> & { cost: number; run: (c: () => Promise<import('pg').Client>) => Promise<void> };
    const INDEX_COST = 0.12;
    const FK_COST = 0.04;
    const work: Work[] = [];
    const dataIds = new Map<string, string[]>();
    for (const t of tables) {
      const k = key(t);
      const w = bytesOf.get(k)!;
      if (t.chunks.length === 0) {
        dataIds.set(k, []); // a schema-only backup: no rows to load
      } else if (t.chunks.length === 1 || serial.has(k)) {
        work.push({ id: `data:${k}`, deps: [], locks: [{ table: k, mode: 'AccessExclusive' }], cost: w, run: () => loadTable(t, t.chunks.map((c) => c.file), true) });
        dataIds.set(k, [`data:${k}`]);
      } else {
        const ids = t.chunks.map((c, i) => {
          work.push({ id: `data:${k}:${i}`, deps: [], locks: [{ table: k, mode: 'RowExclusive' }], cost: c.rawBytes, run: () => loadTable(t, [c.file], false) });
          return `data:${k}:${i}`;
        });
        dataIds.set(k, ids);
      }
    }
    const allData = [...dataIds.values()].flat();
    // The verify drill's check runs on the loaded rows before any index (afterData): then nothing of post-data
    // starts before every stream has finished.
    const afterDataId = 'after-data';
    const postIds = new Map<string, string[]>();
    let notValidForeignKeys: NotValidForeignKey[] = [];
    const notValid: NotValidForeignKey[] = [];
    const ctx = { role: o.config.connection.user, database: o.targetName ?? db };
    if (post) {
      post.items.forEach((it, i) => {
        const id = `post:${i}:${it.label}`;
        const deps = [...(o.afterData ? [afterDataId] : dataIds.get(it.table) ?? []),
          // Within a table: an exclusive item (ALTER TABLE) after the items listed before it, and every item after
          // the exclusive items listed before it (TOC order, as pg_restore -j's lock dependencies).
          ...post.items.slice(0, i).flatMap((p, j) => p.table === it.table && (it.exclusive || p.exclusive) ? [`post:${j}:${p.label}`] : [])];
        work.push({ id, deps, locks: [{ table: it.table, mode: postDataLock(it.desc) }], cost: (bytesOf.get(it.table) ?? 0) * (it.desc === 'INDEX' || it.desc === 'CONSTRAINT' ? INDEX_COST * (1 + (keyColumns(it.sql) - 1) / 2) : 0.001),
          run: async (client) => {
            const c = await client();
            await mapPrivilege({ ...ctx, action: `restore ${it.label}` }, () => c.query(it.sql)).catch((err) => {
              throw err instanceof AxisorError ? err : toDatabaseError(err, `restoring ${it.label}`);
            });
          } });
        postIds.set(it.table, [...(postIds.get(it.table) ?? []), id]);
      });
    }
    const restId = 'post:rest';
    const tableOfCheck = new Map<string, string>();
    const indexTable = new Map<string, string>();
    if (post) post.items.forEach((it, i) => {
      if (it.desc === 'INDEX') indexTable.set(`post:${i}:${it.label}`, it.table);
    });
    const allPost = [...postIds.values()].flat();
    if (post && post.restHasWork) {
      work.push({ id: restId, deps: [...(o.afterData ? [afterDataId] : allData), ...allPost], locks: [], cost: 0, run: () => runRest(o.jobs) });
    }
    // Foreign keys: each after its table's rows and the referenced table's post-data (the referenced key must exist).
    // Added NOT VALID first (catalog only: SHARE ROW EXCLUSIVE on both tables for an instant), then validated
    // (the scan: SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on the referenced one), so a validation of the big
    // table runs next to index builds and keys of the tables it references. Same catalog in the end (convalidated);
    // a key the data violates stays NOT VALID and is reported.
    scheduleForeignKeys(fks, new Map(tables.map((t) => [key(t), t.rows]))).forEach((group, gi) => group.forEach((fk, i) => {
      const ref = fk.ref;
      // Not after the table's own indexes: a validation does not use them, and it conflicts with their builds
      // anyway (SHARE UPDATE EXCLUSIVE vs SHARE), so the big table's keys validate one after the other while the
      // other sessions load and index the small tables, and its index builds run two at a time at the end.
      const deps = [...(o.afterData ? [afterDataId] : []), ...(dataIds.get(fk.table) ?? []), ...(ref ? [...(dataIds.get(ref) ?? []), ...(postIds.get(ref) ?? [])] : [...allData, ...allPost]),
        ...(post?.restHasWork || !post ? [restId] : [])];
      const w = (bytesOf.get(fk.table) ?? 0) * FK_COST;
      const other = ref && ref !== fk.table ? ref : null;
      // The keys of one table validate one after the other (SHARE UPDATE EXCLUSIVE conflicts with itself): a chain.
      const prev = i > 0 ? [`fkv:${gi}:${i - 1}`] : [];
      tableOfCheck.set(`fkv:${gi}:${i}`, fk.table);
      if (!/^ALTER TABLE ONLY /.test(fk.sql)) {
        work.push({ id: `fkv:${gi}:${i}`, deps: [...deps, ...prev], locks: [{ table: fk.table, mode: 'ShareRowExclusive' }, ...(other ? [{ table: other, mode: 'ShareRowExclusive' as const }] : [])], cost: w,
          run: async (client) => {
            const nv = await createForeignKey(await client(), fk);
            if (nv) notValid.push(nv);
          } });
        return;
      }
      work.push({ id: `fk:${gi}:${i}`, deps, locks: [{ table: fk.table, mode: 'ShareRowExclusive' }, ...(other ? [{ table: other, mode: 'ShareRowExclusive' as const }] : [])], cost: 0,
        run: async (client) => {
          await (await client()).query(fk.sql.replace(/;\s*$/, ' NOT VALID;')).catch((err) => {
            throw toDatabaseError(err, `creating foreign key ${fk.constraint} on ${fk.table}`);
          });
        } });
      work.push({ id: `fkv:${gi}:${i}`, deps: [`fk:${gi}:${i}`, ...prev], locks: [{ table: fk.table, mode: 'ShareUpdateExclusive' }, ...(other ? [{ table: other, mode: 'RowShare' as const }] : [])], cost: w,
        run: async (client) => {
          const nv = await validateForeignKey(await client(), fk);
          if (nv) notValid.push(nv);
        } });
    }));
    // A table no foreign key references (the big table of this schema, TradeLog): its keys validate one after
    // the other and none can run next to a build of its indexes (SHARE UPDATE EXCLUSIVE vs SHARE), so the chain
    // goes first, while the other sessions still load and index the small tables, and its index builds (two at a
    // time) come after it, instead of the chain running alone at the end. Only such tables, and only when no key
    // waits for the rest of post-data: no cycle can form.
    const referenced = new Set(fks.map((fk) => fk.ref ?? '*'));
    if (post && !post.restHasWork && !referenced.has('*')) {
      const lastCheck = new Map<string, string>();
      for (const w of work) if (w.id.startsWith('fkv:')) lastCheck.set(tableOfCheck.get(w.id)!, w.id);
      for (const w of work) {
        const table = indexTable.get(w.id);
        const last = table !== undefined && !referenced.has(table) ? lastCheck.get(table) : undefined;
        if (last) w.deps.push(last);
      }
    }
    if (!post) {
      // Fallback (the archive's post-data script was not one block per entry): post-data as one pg_restore -j run.
      work.push({ id: restId, deps: o.afterData ? [afterDataId] : allData, locks: [], cost: 0, run: () => runRest(o.jobs) });
    }
    const runRest = async (jobs: number) => {
      await schemaStep(() => runPgTool(pgRestore, ['--section=post-data', ...(post ? common.map((a) => (a === listFile ? restListFile : a)) : common), '-j', String(jobs), '-d', db, schemaFile], conn,
        { ...tool, baseEnv: { ...tool.baseEnv, PGOPTIONS: `-c maintenance_work_mem=${mwm}MB -c synchronous_commit=off` } }));
    };
    const restListFile = join(listDir, 'rest.list');
    if (post) writeFileSync(restListFile, post.rest, { mode: 0o600 });

    // Sessions for post-data and foreign keys, opened when first needed and kept (one per concurrent task).
    const idle: import('pg').Client[] = [];
    const opened: import('pg').Client[] = [];
    const session = async (): Promise<import('pg').Client> => {
      const c = idle.pop();
      if (c) return c;
      const n = await connectMidRun(conn, 'axisor-db restore');
      opened.push(n);
      await n.query(`SELECT pg_catalog.set_config('search_path', '', false), pg_catalog.set_config('maintenance_work_mem', '${mwm}MB', false), pg_catalog.set_config('synchronous_commit', 'off', false)`);
      return n;
    };
    if (o.afterData) {
      work.push({ id: afterDataId, deps: allData, locks: [], cost: 0, run: async () => {
        const a0 = performance.now();
        await o.afterData!(db, tables);
        phases.afterDataMs = Math.round(performance.now() - a0);
      } });
    }
    const dataLeft = new Set(allData);
    // AXISOR_RESTORE_TRACE=<file>: one line per task (start ms, end ms, task), for measurements (docs/performance.md).
    const trace = o.env.AXISOR_RESTORE_TRACE;
    const marks: Record<string, number> = {};
    t0 = performance.now();
    try {
      await runTasks(withRanks(work), o.jobs, async (w) => {
        if (w.id.startsWith('post:') && marks.postStart === undefined) {
          marks.postStart = performance.now();
          o.onProgress?.({ phase: 'indexes', message: 'indexes and constraints' });
        }
        if (w.id.startsWith('fk') && marks.fkStart === undefined) {
          marks.fkStart = performance.now();
          o.onProgress?.({ phase: 'foreign keys', message: `${fks.length} foreign keys` });
        }
        let held: import('pg').Client | null = null;
        const s0 = performance.now();
        try {
          await w.run(async () => (held = await session()));
        } finally {
          if (held) idle.push(held);
        }
        const now = performance.now();
        if (trace) appendFileSync(trace, `${Math.round(s0 - t0)}\t${Math.round(now - t0)}\t${w.id}\n`);
        if (dataLeft.delete(w.id) && dataLeft.size === 0) marks.dataEnd = now;
        if (w.id.startsWith('post:')) marks.postEnd = now;
        if (w.id.startsWith('fk')) marks.fkEnd = now;
      }, o.signal);
    } finally {
      await Promise.all(opened.map((c) => c.end().catch(() => {})));
    }
    const end = performance.now();
    notValidForeignKeys = notValid.sort((a, b) => `${a.table}.${a.constraint}`.localeCompare(`${b.table}.${b.constraint}`));
    // The phases overlap now: dataMs is from the start to the last stream's end, indexesMs and foreignKeysMs
    // from their first start to their last end; restoreWorkMs is the wall time of all three together.
    phases.dataMs = Math.round((marks.dataEnd ?? t0) - t0);
    phases.indexesMs = marks.postStart === undefined ? 0 : Math.round(marks.postEnd! - marks.postStart);
    phases.foreignKeysMs = marks.fkStart === undefined ? 0 : Math.round(marks.fkEnd! - marks.fkStart);
    phases.restoreWorkMs = Math.round(end - t0);
    phases.postDataItems = post?.items.length ?? 0;
    t0 = performance.now();

    const client = await connectMidRun(conn, 'axisor-db restore');
    try {
      // The incrementals' changes and the sequences in one transaction: all of them or none.
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
      phases.finishMs = Math.round(performance.now() - t0);
      return { tables: tables.length, rows: tables.reduce((s, t) => s + t.rows, 0), chunks: total, replay, droppedForeignKeys, notValidForeignKeys, phases, skippedExtensions: skipped.map((x) => x.name), warnings };
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
  /** `schema.table` of the REFERENCES clause, or null when it cannot be read (then the key waits for everything). */
  ref?: string | null;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[^\s."(]+)`;
const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);

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
    const r = new RegExp(`REFERENCES (${IDENT})\\.(${IDENT})`).exec(sql);
    out.push({ table: `${head[2]}.${table}`, constraint, sql, ref: r ? `${unquote(r[1]!)}.${unquote(r[2]!)}` : null });
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
 * createForeignKey creates a foreign key in one step (a partitioned table's: PostgreSQL 15 has no NOT VALID ones
 * there); validateForeignKey validates one created NOT VALID. One that the data violates (SQLSTATE 23503) stays NOT VALID: new
 * rows are checked, the existing violators stay and are reported (returned), and `axisor-db validate` lists them.
 * Any other failure fails the restore.
 */
async function createForeignKey(c: import('pg').Client, fk: ForeignKeyStatement): Promise<NotValidForeignKey | null> {
  try {
    await c.query(fk.sql);
    return null;
  } catch (err) {
    if ((err as { code?: string }).code !== '23503') throw toDatabaseError(err, `creating foreign key ${fk.constraint} on ${fk.table}`);
    const e = err as { message: string; detail?: string };
    await c.query(fk.sql.replace(/;\s*$/, ' NOT VALID;'));
    return { table: fk.table, constraint: fk.constraint, reason: `${e.message}${e.detail ? `: ${e.detail}` : ''}` };
  }
}

async function validateForeignKey(c: import('pg').Client, fk: ForeignKeyStatement): Promise<NotValidForeignKey | null> {
  const alter = /^ALTER TABLE (?:ONLY )?(.+?)\s+ADD CONSTRAINT /s.exec(fk.sql)?.[1];
  if (!alter) throw new Error(`internal: cannot read the table of foreign key ${fk.constraint}: ${fk.sql}`);
  try {
    await c.query(`ALTER TABLE ${alter} VALIDATE CONSTRAINT ${quoteIdent(fk.constraint)}`);
    return null;
  } catch (err) {
    if ((err as { code?: string }).code !== '23503') throw toDatabaseError(err, `validating foreign key ${fk.constraint} on ${fk.table}`);
    const e = err as { message: string; detail?: string };
    return { table: fk.table, constraint: fk.constraint, reason: `${e.message}${e.detail ? `: ${e.detail}` : ''}` };
  }
}

/**
 * How many columns an index or key of a post-data statement sorts on (`USING btree (a, b)`, `PRIMARY KEY (id)`):
 * a two-column build costs more than a one-column one, so it starts first (no lone long build at the end).
 */
export function keyColumns(sql: string): number {
  const m = /(?:USING \w+|PRIMARY KEY|UNIQUE(?: NULLS NOT DISTINCT)?) \(/.exec(sql);
  if (!m) return 1;
  let depth = 1;
  let n = 1;
  for (let i = m.index + m[0].length; i < sql.length && depth > 0; i++) {
    const ch = sql[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 1) n++;
    else if (ch === '"') while (++i < sql.length && sql[i] !== '"');
  }
  return n;
}

/** A per-table post-data item with its SQL (pg_restore's script of its entries, with the session settings before it). */
export type PostDataStatement = PostDataItem & { sql: string };

/**
 * Splits pg_restore's script of the items' entries into one statement batch per item: the script's session
 * settings (its preamble, and the last `SET default_tablespace`/`default_table_access_method` before the item),
 * then the item's blocks. Null when the blocks do not match the items one to one (then the caller restores
 * post-data with pg_restore as a whole).
 */
export function splitPostDataScript(script: string, items: PostDataItem[]): PostDataStatement[] | null {
  const parts = script.split('\n--\n-- Name: ');
  // The script was decoded from the archive's encoding (runPgTool outputEncoding) and our sessions stay in UTF8
  // (node-postgres sends and decodes UTF8): its SET client_encoding goes; the psql-only \\restrict lines are not SQL.
  const preamble = parts[0]!.split('\n').filter((l) => !/^\\(un)?restrict /.test(l) && !/^SET client_encoding = /.test(l)).join('\n');
  if (/^\\/m.test(preamble)) return null;
  const state = new Map<string, string>();
  const setLine = /^SET (default_tablespace|default_table_access_method) = .*;$/gm;
  for (const m of preamble.matchAll(setLine)) state.set(m[1]!, m[0]);
  const out: PostDataStatement[] = [];
  const blocks: number[] = [];
  let k = -1;
  for (const block of parts.slice(1)) {
    const type = /^.*?; Type: (.*?); Schema: /.exec(block)?.[1];
    const body = block.slice(block.indexOf('\n--\n') + 4).split('\n').filter((l) => !/^\\(un)?restrict /.test(l)).join('\n');
    if (type === undefined || /^\\/m.test(body)) return null;
    const prefix = [...state.values()].join('\n');
    if (type === 'COMMENT' || type === 'SECURITY LABEL') {
      if (k < 0) return null;
      out[k]!.sql += `\n${body}`;
      blocks[k]!++;
    } else {
      const it = items[++k];
      if (!it || it.desc !== type) return null;
      out.push({ ...it, sql: `${preamble}\n${prefix}\n${body}` });
      blocks.push(1);
    }
    for (const m of body.matchAll(setLine)) state.set(m[1]!, m[0]);
  }
  if (out.length !== items.length || items.some((it, i) => it.ids.length !== blocks[i])) return null;
  return out;
}

/** The per-table post-data plan with each item's SQL, or null to restore post-data with pg_restore as before. */
async function planPostDataSql(pgRestore: PgTool, schemaFile: string, flags: string[], list: string, verbose: string, tables: TableEntry[], env: LoadOptions['env'], dir: string, encoding: string):
    Promise<{ items: PostDataStatement[]; rest: string; restHasWork: boolean } | null> {
  const plan = planPostData(verbose, list, tables);
  {
    let items: PostDataStatement[] | null = [];
    if (plan.items.length > 0) {
      const byId = new Map<number, string>();
      for (const line of list.split('\n')) {
        const m = /^(\d+);/.exec(line);
        if (m) byId.set(Number(m[1]), line);
      }
      writeFileSync(join(dir, 'post-items.list'), `${plan.items.flatMap((i) => i.ids.map((id) => byId.get(id)!)).join('\n')}\n`, { mode: 0o600 });
      const script = (await runPgTool(pgRestore, ['--section=post-data', ...flags, '-f', '-', '-L', join(dir, 'post-items.list'), schemaFile], undefined, { baseEnv: env, outputEncoding: encoding })).stdout;
      items = splitPostDataScript(script, plan.items);
      if (!items) return null;
    }
    writeFileSync(join(dir, 'post-rest.list'), plan.rest, { mode: 0o600 });
    const restScript = (await runPgTool(pgRestore, ['--section=post-data', ...flags, '-f', '-', '-L', join(dir, 'post-rest.list'), schemaFile], undefined, { baseEnv: env })).stdout;
    return { items, rest: plan.rest, restHasWork: restScript.includes('\n-- Name: ') };
  }
}

/** Sequences end at least at their backed-up values (never lower than what the restored data already used). */
async function setSequences(client: import('pg').Client, m: Manifest): Promise<void> {
  for (const s of m.sequences) {
    const reg = (await client.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [qualifiedName(s.schema, s.name)])).rows[0]?.r;
    if (!reg) continue; // not restored (--table)
    await client.query(`SELECT setval($1::regclass, greatest($2::bigint, (SELECT last_value FROM ${qualifiedName(s.schema, s.name)})), $3)`, [qualifiedName(s.schema, s.name), s.lastValue, s.isCalled]);
  }
}
