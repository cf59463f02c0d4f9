import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codecFor } from '../backup/compress.ts';
import { copySessionEnv, loadChunk } from '../backup/copy-stream.ts';
import type { Manifest, TableEntry } from '../backup/manifest.ts';
import { runLimited } from '../backup/pool.ts';
import type { AxisorConfig } from '../config/types.ts';
import { connectClient, withDatabase } from '../db/connect.ts';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { PrerequisiteError } from '../errors.ts';
import { findPgTool, runPgTool } from '../pgtools/index.ts';
import type { ProgressFn } from '../render/output.ts';
import { replayChain, type ReplayStats } from './replay.ts';
import { filterTocList } from './toc.ts';

export interface LoadOptions {
  config: AxisorConfig;
  env: Readonly<Record<string, string | undefined>>;
  jobs: number;
  /** schema.table names to restore, or null for all. */
  only: Set<string> | null;
  toTimeMicros: bigint | null;
  noOwner: boolean;
  /** Load each table's chunks in order in one session, so the restored physical order is the backup's (the drill hashes it). */
  preserveOrder?: boolean;
  /** Runs after the data is loaded and before indexes and constraints (the drill's fingerprint check). */
  afterData?: (db: string, tables: TableEntry[]) => Promise<void>;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface LoadResult {
  tables: number;
  rows: number;
  chunks: number;
  replay: ReplayStats | null;
  droppedForeignKeys: number;
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
  const psql = await findPgTool('psql', { env: o.env });
  const schemaFile = join(base.dir, 'schema.dump');
  const tables = full.tables.filter((t) => !o.only || o.only.has(`${t.schema}.${t.name}`));
  const listDir = mkdtempSync(join(tmpdir(), 'axisor-toc-'));
  try {
    const common = ['--exit-on-error'];
    if (o.noOwner) common.push('--no-owner', '--no-privileges');
    let droppedForeignKeys = 0;
    if (o.only) {
      const { stdout } = await runPgTool(pgRestore, ['-l', schemaFile], undefined, { baseEnv: o.env });
      const f = filterTocList(stdout, full.tables, o.only);
      droppedForeignKeys = f.droppedForeignKeys;
      const listFile = join(listDir, 'toc.list');
      writeFileSync(listFile, f.list, { mode: 0o600 });
      common.push('-L', listFile);
    }
    o.onProgress?.({ phase: 'schema', message: db });
    await runPgTool(pgRestore, ['--section=pre-data', ...common, '-d', db, schemaFile], conn, { baseEnv: o.env });

    const env = copySessionEnv(o.env, full.encoding);
    const codec = codecFor(full.compression);
    const copyIn = (t: TableEntry) => `COPY ${qualifiedName(t.schema, t.name)} (${t.columns.map(quoteIdent).join(', ')}) FROM STDIN`;
    let done = 0;
    const total = tables.reduce((s, t) => s + t.chunks.length, 0);
    const loadOne = async (t: TableEntry, file: string) => {
      await loadChunk({ psql, conn, env, file: join(base.dir, file), codec, copySql: copyIn(t) });
      o.onProgress?.({ phase: 'data', done: ++done, total, unit: 'items', message: `${t.schema}.${t.name}` });
    };
    const tasks = o.preserveOrder
      ? tables.filter((t) => t.chunks.length > 0).map((t) => async () => {
        for (const c of t.chunks) await loadOne(t, c.file);
      })
      : tables.flatMap((t) => t.chunks.map((c) => ({ t, c }))).sort((a, b) => b.c.rawBytes - a.c.rawBytes).map(({ t, c }) => () => loadOne(t, c.file));
    await runLimited(tasks, o.jobs, o.signal);
    if (o.afterData) await o.afterData(db, tables);

    o.onProgress?.({ phase: 'indexes', message: 'indexes and constraints' });
    await runPgTool(pgRestore, ['--section=post-data', ...common, '-j', String(o.jobs), '-d', db, schemaFile], conn, { baseEnv: o.env });

    const client = await connectClient(conn, { applicationName: 'axisor-db restore', statementTimeoutMs: 0 });
    try {
      await client.query('BEGIN');
      let replay: ReplayStats | null = null;
      let seqSource = full;
      if (chain.length > 1) {
        try {
          await client.query('SET LOCAL session_replication_role = replica');
        } catch (err) {
          throw new PrerequisiteError('replica_role', `replaying changes needs permission to SET session_replication_role: ${(err as Error).message}`, {
            hint: `run as a superuser, or GRANT SET ON PARAMETER session_replication_role TO ${o.config.connection.user};`,
          });
        }
        o.onProgress?.({ phase: 'replay', message: `${chain.length - 1} incremental backups` });
        replay = await replayChain(client, chain.slice(1), { codecFor: (m) => codecFor(m.compression), env: o.env, only: o.only, toTimeMicros: o.toTimeMicros, tables: full.tables });
        seqSource = chain[chain.length - 1]!.manifest;
      }
      await setSequences(client, seqSource);
      await client.query('COMMIT');
      return { tables: tables.length, rows: tables.reduce((s, t) => s + t.rows, 0), chunks: total, replay, droppedForeignKeys };
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

/** Sequences end at least at their backed-up values (never lower than what the restored data already used). */
async function setSequences(client: import('pg').Client, m: Manifest): Promise<void> {
  for (const s of m.sequences) {
    const reg = (await client.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [qualifiedName(s.schema, s.name)])).rows[0]?.r;
    if (!reg) continue; // not restored (--table)
    await client.query(`SELECT setval($1::regclass, greatest($2::bigint, (SELECT last_value FROM ${qualifiedName(s.schema, s.name)})), $3)`, [qualifiedName(s.schema, s.name), s.lastValue, s.isCalled]);
  }
}
