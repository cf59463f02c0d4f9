import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codecFor } from '../backup/compress.ts';
import { decryptFileTo, manifestEncryptionOf, openBackupFile } from '../backup/encryption.ts';
import { isRemoteDir } from '../backup/repo.ts';
import type { BackupKey } from '../crypto/key.ts';
import { copySessionEnv, loadChunk } from '../backup/copy-stream.ts';
import type { Manifest, TableEntry } from '../backup/manifest.ts';
import { runLimited } from '../backup/pool.ts';
import type { AxisorConfig } from '../config/types.ts';
import { connectClient, withDatabase } from '../db/connect.ts';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { PrerequisiteError } from '../errors.ts';
import { toDatabaseError } from '../db/errors.ts';
import { findPgTool, runPgTool } from '../pgtools/index.ts';
import { makeOwnedTempDir } from '../pgtools/tempdirs.ts';
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
    if (o.noOwner) common.push('--no-owner', '--no-privileges');
    let droppedForeignKeys = 0;
    let toc = (await runPgTool(pgRestore, ['-l', schemaFile], undefined, { baseEnv: o.env })).stdout;
    if (o.only) {
      const f = filterTocList(toc, full.tables, o.only);
      droppedForeignKeys = f.droppedForeignKeys;
      toc = f.list;
    }
    // Foreign keys are created by us after the rest of post-data, so data that violates one (as the source's did)
    // still restores: the constraint is created NOT VALID and reported, instead of failing the whole restore.
    const { rest, foreignKeys } = splitForeignKeys(toc);
    const listFile = join(listDir, 'toc.list');
    writeFileSync(listFile, rest, { mode: 0o600 });
    common.push('-L', listFile);
    const fkListFile = join(listDir, 'fk.list');
    writeFileSync(fkListFile, foreignKeys, { mode: 0o600 });
    o.onProgress?.({ phase: 'schema', message: db });
    await runPgTool(pgRestore, ['--section=pre-data', ...common, '-d', db, schemaFile], conn, { baseEnv: o.env });

    const env = copySessionEnv(o.env, full.encoding);
    const codec = codecFor(full.compression);
    const copyIn = (t: TableEntry) => `COPY ${qualifiedName(t.schema, t.name)} (${t.columns.map(quoteIdent).join(', ')}) FROM STDIN`;
    let done = 0;
    const total = tables.reduce((s, t) => s + t.chunks.length, 0);
    const loadOne = async (t: TableEntry, file: string) => {
      const size = full.files.find((f) => f.path === file)?.bytes;
      await loadChunk({ psql, conn, env, file: remote ? file : join(base.dir, file), codec, copySql: copyIn(t), source: encrypted || remote ? await openBackupFile(base.dir, file, o.encryptionKey ?? null, { size }) : null });
      o.onProgress?.({ phase: 'data', done: ++done, total, unit: 'items', message: `${t.schema}.${t.name}` });
    };
    const tasks = tables.flatMap((t) => t.chunks.map((c) => ({ t, c }))).sort((a, b) => b.c.rawBytes - a.c.rawBytes).map(({ t, c }) => () => loadOne(t, c.file));
    await runLimited(tasks, o.jobs, o.signal);
    if (o.afterData) await o.afterData(db, tables);

    o.onProgress?.({ phase: 'indexes', message: 'indexes and constraints' });
    await runPgTool(pgRestore, ['--section=post-data', ...common, '-j', String(o.jobs), '-d', db, schemaFile], conn, { baseEnv: o.env });
    const notValidForeignKeys = foreignKeys.trim() === '' ? [] : await createForeignKeys(
      parseForeignKeyScript((await runPgTool(pgRestore, ['-f', '-', '-L', fkListFile, schemaFile], undefined, { baseEnv: o.env })).stdout), conn, o,
    );

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
        replay = await replayChain(client, chain.slice(1), { codecFor: (m) => codecFor(m.compression), env: o.env, only: o.only, toTimeMicros: o.toTimeMicros, tables: full.tables, encryptionKey: o.encryptionKey });
        seqSource = chain[chain.length - 1]!.manifest;
      }
      await setSequences(client, seqSource);
      await client.query('COMMIT');
      return { tables: tables.length, rows: tables.reduce((s, t) => s + t.rows, 0), chunks: total, replay, droppedForeignKeys, notValidForeignKeys };
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
 * Creates the foreign keys (in parallel, like pg_restore -j). One that the data violates (SQLSTATE 23503) is
 * created NOT VALID instead: new rows are checked, the existing violators stay and are reported, and
 * `axisor-db validate` lists them. Any other failure fails the restore.
 */
async function createForeignKeys(fks: ForeignKeyStatement[], conn: import('../config/types.ts').ConnectionSettings, o: LoadOptions): Promise<NotValidForeignKey[]> {
  const notValid: NotValidForeignKey[] = [];
  o.onProgress?.({ phase: 'foreign keys', message: `${fks.length} foreign keys` });
  const clients = await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs, fks.length)) }, () => connectClient(conn, { applicationName: 'axisor-db restore', statementTimeoutMs: 0 })));
  try {
    for (const c of clients) await c.query(`SELECT pg_catalog.set_config('search_path', '', false)`);
    const free = [...clients];
    await runLimited(fks.map((fk) => async () => {
      const c = free.pop()!;
      try {
        try {
          await c.query(fk.sql);
        } catch (err) {
          if ((err as { code?: string }).code !== '23503') throw toDatabaseError(err, `creating foreign key ${fk.constraint} on ${fk.table}`);
          const e = err as { message: string; detail?: string };
          await c.query(fk.sql.replace(/;\s*$/, ' NOT VALID;'));
          notValid.push({ table: fk.table, constraint: fk.constraint, reason: `${e.message}${e.detail ? `: ${e.detail}` : ''}` });
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
