import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import { connectClient, withClient } from '../db/connect.ts';
import { columnList, qualifiedName } from '../db/ident.ts';
import { withTransaction } from '../db/transaction.ts';
import { AbortedError, NotFoundError, RefusedError } from '../errors.ts';
import type { ProgressEvent } from '../progress.ts';
import { captureTableDdl, dropTableDdl, maintenanceWorkMemMb, restoreTableDdl, type SavedObject } from './bulk-load.ts';
import { createChunkSource, type ChunkSource } from './chunk-source.ts';
import { IdFactory } from './ids.ts';
import { resolveSeedOptions, type SeedSettings } from './options.ts';
import { SEED_TABLES, TEMPLATES, type SeedTable } from './tables/index.ts';
import type { ServiceContext } from '../service.ts';
import type { SeedInput, SeedResult, SeedTableResult } from './result.ts';

export type { SeedInput, SeedPhases, SeedResult, SeedTableResult } from './result.ts';

const ALL_TABLES = [...SEED_TABLES.map((t) => t.name), 'NotificationTemplate'];
/**
 * The tables whose contents decide "empty database". NotificationTemplate is reference data that `axisor-db migrate`
 * fills (the templates data migration), so a freshly migrated database still counts as empty; the seed upserts
 * its own templates (ON CONFLICT DO NOTHING) and never truncates that table.
 */
const DATA_TABLES = SEED_TABLES.map((t) => t.name);

const rate = (rows: number, ms: number) => (ms > 0 ? Math.round((rows / ms) * 1000) : 0);

/**
 * Fills the Axisor tables with realistic, deterministic data by binary COPY, in ONE transaction: on any failure
 * (or SIGINT) nothing is left behind, including the dropped indexes and foreign keys of the bulk path.
 */
export async function seedDatabase(input: SeedInput, ctx: ServiceContext): Promise<SeedResult> {
  const s = resolveSeedOptions(input);
  const schema = ctx.config.schema;
  const progress = ctx.onProgress ?? (() => {});
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  // Seeding runs longer than any statement timeout meant for the tool's queries.
  const session = { applicationName: 'axisor-db seed', statementTimeoutMs: 0 };
  return withClient(ctx.config, async (client) => {
    await checkTables(client, schema);
    // All or nothing: any error (or Ctrl-C) rolls back the load, the TRUNCATE and the dropped indexes and keys.
    let c0 = 0;
    const result = await withTransaction(client, { mapErrors: false }, async () => {
      const r = await seedInTransaction({ client, s, schema, progress, signal: ctx.signal, started, threads: input.threads });
      c0 = performance.now();
      return r;
    });
    result.phases.commitMs = Math.round(performance.now() - c0);
    // After the commit (statistics of committed data; nothing here can undo the load): biggest tables first,
    // spread over up to two sessions so that ANALYZE of TradeLog and of the other tables run at once.
    const a0 = performance.now();
    progress({ phase: 'analyze' });
    const rows = new Map(result.tables.map((t) => [t.table, t.rows]));
    const order = [...ALL_TABLES].sort((x, y) => (rows.get(y) ?? 0) - (rows.get(x) ?? 0));
    result.phases.analyzeSessions = await analyzeTables(client, ctx.config, session, schema, order, Math.min(2, availableParallelism()));
    result.analyzeMs = result.phases.analyzeMs = Math.round(performance.now() - a0);
    result.totalMs = Math.round(performance.now() - started);
    result.rowsPerSecond = rate(result.totalRows, result.totalMs);
    const cpu = process.cpuUsage(cpu0);
    result.phases.nodeCpuMs = Math.round((cpu.user + cpu.system) / 1000);
    return result;
  }, session);
}

/**
 * ANALYZE `tables` (in this order) over the seed's own session plus up to `sessions - 1` more. An extra session
 * that cannot connect (e.g. max_connections reached) is simply not used. Returns how many sessions took part.
 */
async function analyzeTables(client: pg.Client, connection: AxisorConfig, session: { applicationName: string; statementTimeoutMs: number },
  schema: string, tables: readonly string[], sessions: number): Promise<number> {
  const queue = [...tables];
  const drain = async (c: pg.Client) => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) await c.query(`ANALYZE ${qualifiedName(schema, t)}`);
  };
  let used = 1;
  const extra = Array.from({ length: Math.max(0, sessions - 1) }, async () => {
    let c: pg.Client;
    try {
      c = await connectClient(connection, session);
    } catch {
      return;
    }
    used++;
    try {
      await drain(c);
    } finally {
      await c.end().catch(() => {});
    }
  });
  const settled = await Promise.allSettled([drain(client), ...extra]);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return used;
}

async function checkTables(client: pg.Client, schema: string): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT name FROM unnest($2::text[]) AS name WHERE to_regclass(format('%I.%I', $1::text, name)) IS NULL`, [schema, ALL_TABLES]);
  if (rows.length > 0) {
    throw new NotFoundError('tables', `the Axisor tables are missing in schema "${schema}": ${rows.map((r) => r.name).join(', ')}`, {
      hint: 'run `axisor-db migrate` first (or fix --schema)',
    });
  }
}

/** One seed run's fixed inputs, passed to each step instead of seven positional parameters. */
interface SeedRun {
  client: pg.Client;
  s: SeedSettings;
  schema: string;
  progress: (e: ProgressEvent) => void;
  signal: AbortSignal | undefined;
  /** performance.now() at the start of the run. */
  started: number;
  threads: boolean | undefined;
}

/** What the preparation decided and did: empty the tables (FREEZE possible), drop their DDL (bulk path). */
interface Prepared {
  ids: IdFactory;
  truncate: boolean;
  bulk: boolean;
  saved: SavedObject[];
  templatesInserted: number;
}

async function seedInTransaction(run: SeedRun): Promise<SeedResult> {
  const prep = await prepareTables(run);
  const prepareMs = Math.round(performance.now() - run.started);
  const copy0 = performance.now();
  const { tables, generator, generatorThreads } = await copyAllTables(run, prep.truncate);
  const copyPhaseMs = Math.round(performance.now() - copy0);
  const built = prep.bulk ? await rebuild(run.client, run.schema, prep.saved, run.progress) : NO_REBUILD;
  return seedResult(run, prep, { tables, generator, generatorThreads, prepareMs, copyPhaseMs, built });
}

/** Locks the tables, refuses what the mode forbids, empties them and drops their indexes and keys (bulk path). */
async function prepareTables({ client, s, schema, progress }: SeedRun): Promise<Prepared> {
  const q = (t: string) => qualifiedName(schema, t);
  const ids = new IdFactory(s.seed);
  await client.query(`LOCK TABLE ${ALL_TABLES.map(q).join(', ')} IN ${s.bulk || s.mode === 'truncate' ? 'ACCESS EXCLUSIVE' : 'SHARE ROW EXCLUSIVE'} MODE`);
  const nonEmpty = await nonEmptyTables(client, schema);
  if (nonEmpty.length > 0 && s.mode === 'refuse') {
    throw new RefusedError('not_empty', `the database already holds Axisor data (${nonEmpty.join(', ')})`, { hint: 'pass --append to add to it, or --truncate to replace it' });
  }
  if (s.mode === 'append' && nonEmpty.includes('User')) {
    const { rowCount } = await client.query(`SELECT 1 FROM ${q('User')} WHERE id = $1`, [ids.id('User', 0)]);
    if (rowCount) throw new RefusedError('seed_present', `data of --seed ${s.seed} is already in the database (ids ${ids.seedTag}-...)`, { hint: 'use another --seed, or --truncate' });
  }
  const truncate = s.mode === 'truncate' || (s.bulk && nonEmpty.length === 0);
  // Truncating (even empty tables) in this transaction is what allows COPY ... FREEZE: rows are written frozen,
  // so the first VACUUM need not rewrite every page.
  if (truncate) await client.query(`TRUNCATE ${DATA_TABLES.map(q).join(', ')}`);
  const bulk = s.bulk && (truncate || nonEmpty.length === 0);
  let saved: SavedObject[] = [];
  if (bulk) {
    progress({ phase: 'prepare', message: 'dropping indexes and foreign keys for the load' });
    saved = await captureTableDdl(client, schema, SEED_TABLES.map((t) => t.name));
    await dropTableDdl(client, schema, saved);
  }
  const templatesInserted = await insertTemplates(client, schema, s);
  return { ids, truncate, bulk, saved, templatesInserted };
}

/** COPY of every seeded table, in dependency order, from the (threaded or inline) generator. */
async function copyAllTables({ client, s, schema, progress, signal, threads }: SeedRun, truncate: boolean) {
  const source = createChunkSource(s, { threads });
  const tables: SeedTableResult[] = [];
  try {
    for (const table of SEED_TABLES) {
      if (signal?.aborted) throw new AbortedError('seed interrupted; nothing was written');
      tables.push(await copyTable(client, schema, table, source, truncate, progress, signal));
    }
  } finally {
    await source.close();
  }
  return { tables, generator: (source.threaded ? 'thread' : 'inline') as SeedResult['generator'], generatorThreads: source.threads };
}

function seedResult({ s, started }: SeedRun, prep: Prepared, d: {
  tables: SeedTableResult[]; generator: SeedResult['generator']; generatorThreads: number; prepareMs: number; copyPhaseMs: number; built: Rebuild;
}): SeedResult {
  const { tables, built } = d;
  const trade = tables.find((t) => t.table === 'TradeLog')!;
  const totalRows = tables.reduce((n, t) => n + t.rows, 0) + prep.templatesInserted;
  return {
    seed: s.seed,
    seedTag: prep.ids.seedTag,
    asOf: new Date(s.asOf).toISOString(),
    users: s.users,
    tradesPerUser: s.tradesPerUser,
    automationsPerUser: s.automationsPerUser,
    notificationsPerUser: s.notificationsPerUser,
    mode: s.mode,
    loadPath: prep.bulk ? 'bulk' : 'constrained',
    truncated: prep.truncate,
    generator: d.generator,
    generatorThreads: d.generatorThreads,
    tables,
    templatesInserted: prep.templatesInserted,
    trades: {
      rows: trade.rows,
      copyMs: trade.copyMs,
      copyRowsPerSecond: trade.rowsPerSecond,
      withRebuildMs: Math.round(trade.copyMs + built.tradeRebuildMs),
      withRebuildRowsPerSecond: rate(trade.rows, trade.copyMs + built.tradeRebuildMs),
    },
    totalRows,
    copyMs: Math.round(tables.reduce((n, t) => n + t.copyMs, 0)),
    rebuildMs: built.rebuildMs,
    rebuild: built.rebuilt,
    analyzeMs: 0,
    phases: {
      prepareMs: d.prepareMs,
      copyMs: d.copyPhaseMs,
      keysMs: Math.round(built.byKind.keys),
      indexesMs: Math.round(built.byKind.indexes),
      foreignKeysMs: Math.round(built.byKind.foreignKeys),
      commitMs: 0,
      analyzeMs: 0,
      analyzeSessions: 0,
      nodeCpuMs: 0,
    },
    totalMs: Math.round(performance.now() - started),
    rowsPerSecond: 0,
  };
}

interface Rebuild {
  rebuilt: SeedResult['rebuild'];
  rebuildMs: number;
  tradeRebuildMs: number;
  byKind: { keys: number; indexes: number; foreignKeys: number };
}

const NO_REBUILD: Rebuild = { rebuilt: [], rebuildMs: 0, tradeRebuildMs: 0, byKind: { keys: 0, indexes: 0, foreignKeys: 0 } };

/** The bulk path's rebuild of what was dropped (keys, indexes, then validated foreign keys), timed per object and per kind. */
async function rebuild(client: pg.Client, schema: string, saved: readonly SavedObject[], progress: (e: ProgressEvent) => void): Promise<Rebuild> {
  const r: Rebuild = { rebuilt: [], rebuildMs: 0, tradeRebuildMs: 0, byKind: { keys: 0, indexes: 0, foreignKeys: 0 } };
  const r0 = performance.now();
  await client.query(`SET LOCAL maintenance_work_mem = '${maintenanceWorkMemMb(1)}MB'`);
  let done = 0;
  await restoreTableDdl(client, schema, saved, (o, ms) => {
    r.rebuilt.push({ table: o.table, name: o.name, kind: o.kind, ms: Math.round(ms) });
    if (o.table === 'TradeLog') r.tradeRebuildMs += ms;
    r.byKind[o.kind === 'index' ? 'indexes' : o.kind === 'foreign_key' ? 'foreignKeys' : 'keys'] += ms;
    progress({ phase: 'rebuild', message: o.name, done: ++done, total: saved.length, unit: 'items' });
  });
  r.rebuildMs = Math.round(performance.now() - r0);
  return r;
}

async function nonEmptyTables(client: pg.Client, schema: string): Promise<string[]> {
  const checks = DATA_TABLES.map((t, i) => `SELECT ${i} AS i WHERE EXISTS (SELECT 1 FROM ${qualifiedName(schema, t)})`).join(' UNION ALL ');
  const { rows } = await client.query<{ i: number }>(checks);
  return rows.map((r) => DATA_TABLES[r.i]!);
}

async function insertTemplates(client: pg.Client, schema: string, s: SeedSettings): Promise<number> {
  const at = new Date(s.asOf - 800 * 86_400_000);
  let n = 0;
  for (const [id, type, subject, content] of TEMPLATES) {
    const r = await client.query(
      `INSERT INTO ${qualifiedName(schema, 'NotificationTemplate')} (id, name, subject, content, type, language, is_active, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'en-US', true, $6, $6) ON CONFLICT (id) DO NOTHING`, [id, id.replace(/_template$/, ''), subject, content, type, at]);
    n += r.rowCount ?? 0;
  }
  return n;
}

async function copyTable(client: pg.Client, schema: string, table: SeedTable, source: ChunkSource, freeze: boolean,
  progress: (e: ProgressEvent) => void, signal: AbortSignal | undefined): Promise<SeedTableResult> {
  const sql = `COPY ${qualifiedName(schema, table.name)} (${columnList(table.columns)}) FROM STDIN WITH (FORMAT binary${freeze ? ', FREEZE' : ''})`;
  const counter = { rows: 0 };
  async function* reported(): AsyncGenerator<Buffer> {
    let lastReport = 0;
    for await (const chunk of source.chunks(table.name, counter)) {
      yield chunk;
      if (counter.rows - lastReport >= 50_000) {
        lastReport = counter.rows;
        progress({ phase: 'copy', message: table.name, done: counter.rows, unit: 'rows' });
      }
    }
  }
  const started = performance.now();
  try {
    await pipeline(Readable.from(reported(), { objectMode: false }), client.query(copyFrom(sql)), { signal });
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw new AbortedError('seed interrupted; nothing was written', { cause: err });
    throw err;
  }
  const copyMs = performance.now() - started;
  progress({ phase: 'copy', message: table.name, done: counter.rows, unit: 'rows' });
  return { table: table.name, rows: counter.rows, copyMs: Math.round(copyMs), rowsPerSecond: rate(counter.rows, copyMs) };
}
