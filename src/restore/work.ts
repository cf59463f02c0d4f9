import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Client } from 'pg';
import { codecFor } from '../archive/compress.ts';
import { loadChunk } from '../archive/load-stream.ts';
import { fileSource } from '../archive/sinks.ts';
import { manifestEncryptionOf, openBackupFile } from '../archive/encryption.ts';
import type { TableEntry } from '../archive/manifest.ts';
import { isRemoteDir } from '../archive/repo.ts';
import { toDatabaseError } from '../db/errors.ts';
import { columnList, qualifiedName } from '../db/ident.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { AxisorError } from '../errors.ts';
import { runPgTool } from '../pgtools/index.ts';
import { maintenanceWorkMemMb } from '../seed/bulk-load.ts';
import { createForeignKey, parseForeignKeyScript, scheduleForeignKeys, validateForeignKey, type ForeignKeyStatement, type NotValidForeignKey } from './foreign-keys.ts';
import type { LoadRun } from './load-run.ts';
import { keyColumns, planPostDataSql, type PostDataStatement } from './post-data.ts';
import { postDataLock, serialStreams, type Task } from './schedule.ts';

/**
 * A task of the restore's work graph; `run` asks for a session only when it needs one (a data stream does not).
 * `idle`: how many of the --jobs sessions had nothing to run when it started (an index build alone on the machine
 * takes their cores as parallel workers: lonePostDataSql).
 */
export type Work = Omit<Task, 'weight'> & { cost: number; run: (c: () => Promise<Client>, idle: number) => Promise<void> };

export interface WorkGraph {
  work: Work[];
  /** The ids of the data streams' tasks. */
  allData: string[];
  /** Filled as the work runs: the foreign keys the data violates (left NOT VALID). */
  notValid: NotValidForeignKey[];
  foreignKeys: number;
  postDataItems: number;
  /** Data files to load. */
  chunks: number;
  /** The settings of every post-data session (ours, and pg_restore's for the rest), in order. */
  sessionSettings: Array<[string, string]>;
}

// Estimated costs (in bytes of COPY text; measured on seeded data, docs/performance.md): an index build or key
// about an eighth of loading its table, a foreign-key validation about a twenty-fifth. withRanks turns them
// into critical-path weights.
const INDEX_COST = 0.12;
const FK_COST = 0.04;
// The verify drill's check runs on the loaded rows before any index (afterData): then nothing of post-data
// starts before every stream has finished.
const AFTER_DATA = 'after-data';
const REST = 'post:rest';
const key = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

/** What the builders below share while they add to `work`. */
interface Graph {
  r: LoadRun;
  post: { items: PostDataStatement[]; rest: string; restHasWork: boolean } | null;
  work: Work[];
  bytesOf: Map<string, number>;
  dataIds: Map<string, string[]>;
  postIds: Map<string, string[]>;
  notValid: NotValidForeignKey[];
  sessionSettings: Array<[string, string]>;
}

/**
 * What every post-data session sets: maintenance_work_mem sized to the machine, synchronous_commit off (the
 * restore is all or nothing anyway), and with two sessions or more no parallel maintenance workers: the
 * scheduler already keeps --jobs sessions busy, and a build's workers only compete with the other sessions for
 * the same cores (seeded data, 2 CPUs: the restore took 45.4 CPU-s and 27.2 s without them, 55.4 CPU-s and 32.8 s
 * with the server's default of 2; docs/performance.md).
 */
export function postDataSettings(mwm: number, jobs: number): Array<[string, string]> {
  return [['maintenance_work_mem', `${mwm}MB`], ['synchronous_commit', 'off'], ...(jobs >= 2 ? [['max_parallel_maintenance_workers', '0'] as [string, string]] : [])];
}

/** Whether a post-data item builds an index: CREATE INDEX, or a primary key, unique or exclusion constraint. */
export function buildsIndex(it: { desc: string; sql: string }): boolean {
  return it.desc === 'INDEX' || (it.desc === 'CONSTRAINT' && /\bADD CONSTRAINT (?:"(?:[^"]|"")+"|\S+) (?:PRIMARY KEY|UNIQUE|EXCLUDE)\b/.test(it.sql));
}

/**
 * A post-data item's estimated cost (bytes of its table's rows, scaled): an index build (an index, a primary key, a
 * unique or exclusion constraint) sorts the table, more so with more key columns; anything else (a CHECK, which
 * pg_dump puts in post-data only when it is NOT VALID, a trigger, a rule, a comment) is a catalog change.
 */
export function postDataCost(it: { desc: string; sql: string }, tableBytes: number): number {
  return tableBytes * (buildsIndex(it) ? INDEX_COST * (1 + (keyColumns(it.sql) - 1) / 2) : 0.001);
}

/**
 * A post-data item's statements, run where `idle` of the --jobs sessions have nothing to do: an index build then
 * may use that many parallel maintenance workers (the sessions run with none: postDataSettings), so the big
 * table's primary key, which runs alone under ACCESS EXCLUSIVE, and its last index builds use the cores the other
 * sessions leave idle (seeded data, 2 CPUs: TradeLog's (user_id, executed_at) index 9.6 s alone, 6.5 s with one
 * worker). Back to none after it: the session is lent to the next task.
 */
export function lonePostDataSql(it: { desc: string; sql: string }, idle: number, jobs: number): string {
  if (jobs < 2 || idle < 1 || !buildsIndex(it)) return it.sql;
  return `SET max_parallel_maintenance_workers = ${Math.floor(idle)};\n${it.sql}\nSET max_parallel_maintenance_workers = 0;`;
}

/**
 * The restore's work graph: the data streams, each table's post-data items, the foreign keys (NOT VALID, then
 * VALIDATE), the rest of post-data through pg_restore, and the afterData hook, with their dependencies and locks.
 */
export async function buildWork(r: LoadRun): Promise<WorkGraph> {
  const { o, tables } = r;
  r.phases.frozenChunks = 0;
  // Post-data per table (indexes, constraints, triggers, policies, with their comments) so a small table's
  // indexes build while the big table still loads, as pg_restore -j does; the statements are pg_restore's own
  // (its script of those entries), run over our sessions. Anything the plan cannot place stays in `rest`.
  const post = await planPostDataSql(r.pgRestore, r.schemaFile, r.common.filter((a) => a !== '-L' && a !== r.listFile), r.rest, r.verbose, tables, o.env, r.listDir, r.full.encoding);
  const fks = r.foreignKeys.trim() === '' ? [] : parseForeignKeyScript((await runPgTool(r.pgRestore, ['-f', '-', '-L', r.fkListFile, r.schemaFile], undefined, { baseEnv: o.env, outputEncoding: r.full.encoding })).stdout);
  const mwm = maintenanceWorkMemMb(o.jobs);
  r.phases.maintenanceWorkMemMb = mwm;
  const bytesOf = new Map(tables.map((t) => [key(t), t.chunks.reduce((s, c) => s + c.rawBytes, 0)]));
  const g: Graph = { r, post, work: [], bytesOf, dataIds: new Map(), postIds: new Map(), notValid: [], sessionSettings: postDataSettings(mwm, o.jobs) };
  const chunks = addDataTasks(g);
  const allData = [...g.dataIds.values()].flat();
  addPostDataTasks(g);
  const allPost = [...g.postIds.values()].flat();
  if (post && post.restHasWork) {
    g.work.push({ id: REST, deps: [...(o.afterData ? [AFTER_DATA] : allData), ...allPost], locks: [], cost: 0, run: () => runRest(g) });
  }
  const tableOfCheck = addForeignKeyTasks(g, fks, allData, allPost);
  checksAfterIndexes(g, fks, tableOfCheck);
  if (!post) {
    // Fallback (the archive's post-data script was not one block per entry): post-data as one pg_restore -j run.
    g.work.push({ id: REST, deps: o.afterData ? [AFTER_DATA] : allData, locks: [], cost: 0, run: () => runRest(g) });
  }
  if (post) writeFileSync(join(r.listDir, 'rest.list'), post.rest, { mode: 0o600 });
  if (o.afterData) {
    g.work.push({ id: AFTER_DATA, deps: allData, locks: [], cost: 0, run: async () => {
      const a0 = performance.now();
      await o.afterData!(r.db, tables);
      r.phases.afterDataMs = Math.round(performance.now() - a0);
    } });
  }
  return { work: g.work, allData, notValid: g.notValid, foreignKeys: fks.length, postDataItems: post?.items.length ?? 0, chunks, sessionSettings: g.sessionSettings };
}

/**
 * One task per data stream, or one per table loaded by one session. Such a table is truncated and loaded in one
 * transaction with COPY FREEZE (rows written frozen and hinted: the index builds that read it next do not rewrite
 * every page to set hint bits): its only stream, or all its streams one after the other (one COPY per file, in the
 * same transaction): every split table, in order, unless
 * AXISOR_RESTORE_SPLIT=parallel (serialStreams says why). Returns the number of data files.
 */
function addDataTasks(g: Graph): number {
  const { r, work } = g;
  const { o, full, tables } = r;
  const codec = codecFor(full.compression);
  const base = r.chain[0]!;
  const sourced = manifestEncryptionOf(full) !== null || isRemoteDir(base.dir);
  let done = 0;
  const total = tables.reduce((s, t) => s + t.chunks.length, 0);
  const open = async (file: string): Promise<Readable> => (sourced
    ? openBackupFile(base.dir, file, o.encryptionKey ?? null, { size: full.files.find((f) => f.path === file)?.bytes })
    : fileSource(join(base.dir, file)));
  const loadTable = async (t: TableEntry, files: string[], freeze: boolean) => {
    await loadChunk({ conn: r.conn, encoding: full.encoding, env: o.env, codec, sources: files.map((f) => () => open(f)), format: t.copyFormat, table: qualifiedName(t.schema, t.name), columns: columnList(t.columns), freeze });
    if (freeze) r.phases.frozenChunks! += files.length;
    done += files.length;
    o.onProgress?.({ phase: 'data', done, total, unit: 'items', message: `${t.schema}.${t.name}` });
  };
  const serial = serialStreams(tables.map((t) => ({ key: key(t), streams: t.chunks.length })), o.env.AXISOR_RESTORE_SPLIT);
  for (const t of tables) {
    const k = key(t);
    if (t.chunks.length === 0) {
      g.dataIds.set(k, []); // a schema-only backup: no rows to load
    } else if (t.chunks.length === 1 || serial.has(k)) {
      work.push({ id: `data:${k}`, deps: [], locks: [{ table: k, mode: 'AccessExclusive' }], cost: g.bytesOf.get(k)!, run: () => loadTable(t, t.chunks.map((c) => c.file), true) });
      g.dataIds.set(k, [`data:${k}`]);
    } else {
      g.dataIds.set(k, t.chunks.map((c, i) => {
        work.push({ id: `data:${k}:${i}`, deps: [], locks: [{ table: k, mode: 'RowExclusive' }], cost: c.rawBytes, run: () => loadTable(t, [c.file], false) });
        return `data:${k}:${i}`;
      }));
    }
  }
  return total;
}

/** Each table's post-data items, after its rows (or the afterData hook). */
function addPostDataTasks(g: Graph): void {
  const { r, post } = g;
  if (!post) return;
  const ctx = { role: r.o.config.connection.user, database: r.o.targetName ?? r.db };
  post.items.forEach((it, i) => {
    const id = `post:${i}:${it.label}`;
    const deps = [...(r.o.afterData ? [AFTER_DATA] : g.dataIds.get(it.table) ?? []),
      // Within a table: an exclusive item (ALTER TABLE) after the items listed before it, and every item after
      // the exclusive items listed before it (TOC order, as pg_restore -j's lock dependencies).
      ...post.items.slice(0, i).flatMap((p, j) => p.table === it.table && (it.exclusive || p.exclusive) ? [`post:${j}:${p.label}`] : [])];
    g.work.push({ id, deps, locks: [{ table: it.table, mode: postDataLock(it.desc) }], cost: postDataCost(it, g.bytesOf.get(it.table) ?? 0),
      run: async (client, idle) => {
        const c = await client();
        await mapPrivilege({ ...ctx, action: `restore ${it.label}` }, () => c.query(lonePostDataSql(it, idle, r.o.jobs))).catch((err) => {
          throw err instanceof AxisorError ? err : toDatabaseError(err, `restoring ${it.label}`);
        });
      } });
    g.postIds.set(it.table, [...(g.postIds.get(it.table) ?? []), id]);
  });
}

/**
 * Foreign keys: each after its table's rows and the referenced table's post-data (the referenced key must exist).
 * Added NOT VALID first (catalog only: SHARE ROW EXCLUSIVE on both tables for an instant), then validated
 * (the scan: SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on the referenced one), so a validation of the big
 * table runs next to index builds and keys of the tables it references. Same catalog in the end (convalidated);
 * a key the data violates stays NOT VALID and is reported. Returns the table of each validation task.
 */
function addForeignKeyTasks(g: Graph, fks: ForeignKeyStatement[], allData: string[], allPost: string[]): Map<string, string> {
  const { r, post, work, notValid } = g;
  const tableOfCheck = new Map<string, string>();
  scheduleForeignKeys(fks, new Map(r.tables.map((t) => [key(t), t.rows]))).forEach((group, gi) => group.forEach((fk, i) => {
    const ref = fk.ref;
    // A validation conflicts with builds of its table's indexes (SHARE UPDATE EXCLUSIVE vs SHARE); for a table no key
    // references, checksAfterIndexes puts its chain after them (the validations then read the key columns' indexes).
    const deps = [...(r.o.afterData ? [AFTER_DATA] : []), ...(g.dataIds.get(fk.table) ?? []), ...(ref ? [...(g.dataIds.get(ref) ?? []), ...(g.postIds.get(ref) ?? [])] : [...allData, ...allPost]),
      ...(post?.restHasWork || !post ? [REST] : [])];
    const w = (g.bytesOf.get(fk.table) ?? 0) * FK_COST;
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
  return tableOfCheck;
}

/**
 * A table no foreign key references (the big table of this schema, TradeLog): its keys validate after its
 * indexes. A validation is a join of the table's key column with the referenced key; with the column's index built
 * and the visibility map set (COPY FREEZE sets it) the server reads the index, not the heap (seeded data: TradeLog's
 * five keys 3.6 s after the indexes, 6.2 s before them). Before this, the chain ran first so that it overlapped the
 * small tables' work; on the seeded data that left the cheaper order's gain on the table. Only such tables, and only
 * when no key waits for the rest of post-data: no cycle can form (nothing of the table's indexes waits for a key).
 */
export function checksAfterIndexes(g: { post: { items: ReadonlyArray<{ desc: string; table: string; label: string }>; restHasWork: boolean } | null; work: Array<{ id: string; deps: string[] }> },
  fks: ReadonlyArray<Pick<ForeignKeyStatement, 'ref'>>, tableOfCheck: ReadonlyMap<string, string>): void {
  const { post, work } = g;
  const referenced = new Set(fks.map((fk) => fk.ref ?? '*'));
  if (!post || post.restHasWork || referenced.has('*')) return;
  const indexesOf = new Map<string, string[]>();
  post.items.forEach((it, i) => {
    if (it.desc === 'INDEX' && !referenced.has(it.table)) indexesOf.set(it.table, [...(indexesOf.get(it.table) ?? []), `post:${i}:${it.label}`]);
  });
  for (const w of work) {
    const table = w.id.startsWith('fkv:') || w.id.startsWith('fk:') ? tableOfCheck.get(`fkv:${w.id.split(':').slice(1).join(':')}`) : undefined;
    const after = table !== undefined ? indexesOf.get(table) : undefined;
    if (after) w.deps.push(...after);
  }
}

/** The rest of post-data (or all of it, in the fallback) as one pg_restore -j run. */
async function runRest(g: Graph): Promise<void> {
  const { r, post } = g;
  const restListFile = join(r.listDir, 'rest.list');
  await r.schemaStep(() => runPgTool(r.pgRestore, ['--section=post-data', ...(post ? r.common.map((a) => (a === r.listFile ? restListFile : a)) : r.common), '-j', String(r.o.jobs), '-d', r.db, r.schemaFile], r.conn,
    { ...r.tool, baseEnv: { ...r.tool.baseEnv, PGOPTIONS: g.sessionSettings.map(([k, v]) => `-c ${k}=${v}`).join(' ') } }));
}
