import { createReadStream, rmSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connectClient } from '../db/connect.ts';
import { withTransaction } from '../db/transaction.ts';
import { qualifiedName } from '../db/ident.ts';
import { findPgTool, runPgTool, type PgTool } from '../pgtools/index.ts';
import { makeOwnedTempDir } from '../pgtools/tempdirs.ts';
import { dumpChunk } from '../archive/dump-stream.ts';
import { fileSink, storeSink } from '../archive/sinks.ts';
import { encryptFileInPlace, encryptStage } from '../archive/encryption.ts';
import { DIR_MODE, FILE_MODE, fsyncPath, sha256File } from '../archive/fsx.ts';
import { listTables, readSequences, schemaFingerprint, type ServerInfo, type SourceTable } from './introspect.ts';
import { manifestFormatFor, type Manifest, type ManifestFile, type TableEntry } from '../archive/manifest.ts';
import { runTasks, type Task } from '../tasks.ts';
import { ROW_DIGEST_ALGORITHM, type CopyFormat } from '../archive/row-digest.ts';
import { exportSnapshot, PLUGIN } from './slots.ts';
import { encryptionField, type BackupOptions, type RunContext } from './types.ts';

/**
 * A table's data format: COPY binary where every column type reads back in any database (the server parses
 * timestamps and numerics about a third faster in binary, and no session setting shapes the bytes), else text.
 */
export function copyFormatOf(t: Pick<SourceTable, 'binaryPortable'>, choice: BackupOptions['copyFormat']): CopyFormat {
  return choice !== 'text' && t.binaryPortable ? 'binary' : 'text';
}

const MIN_CHUNK_BYTES = 64 * 1024 * 1024;

export interface ChunkPlan {
  table: number;
  chunk: number;
  fromPage: number | null;
  toPage: number | null;
  bytes: number;
}

/**
 * The smallest stream a table is split into: 64 MB, or AXISOR_MIN_CHUNK_BYTES (for tests and measurements: it
 * lets a small table be split, to exercise the restore of a table stored in several files).
 */
export function minChunkBytes(env: Readonly<Record<string, string | undefined>>): number {
  const v = Number(env.AXISOR_MIN_CHUNK_BYTES);
  return Number.isInteger(v) && v > 0 ? v : MIN_CHUNK_BYTES;
}

/**
 * pg_dump -j parallelises by table only, so the biggest table bounds its time. We split big tables into ctid
 * page ranges (TID range scans, PG14+) read in parallel under the same snapshot, so every range sees the same
 * data; the last range is open-ended so pages added after the size was measured are still read.
 */
export function planChunks(tables: Array<{ bytes: number }>, jobs: number, blockSize = 8192, minChunkBytes = MIN_CHUNK_BYTES): ChunkPlan[] {
  const total = tables.reduce((s, t) => s + t.bytes, 0);
  const target = Math.max(minChunkBytes, Math.ceil(total / Math.max(1, jobs * 2)));
  const plan: ChunkPlan[] = [];
  tables.forEach((t, ti) => {
    const n = jobs > 1 && t.bytes > target * 1.5 ? Math.min(64, Math.ceil(t.bytes / target)) : 1;
    const pages = Math.ceil(t.bytes / blockSize);
    for (let k = 0; k < n; k++) {
      plan.push({
        table: ti, chunk: k, bytes: Math.ceil(t.bytes / n),
        fromPage: n === 1 || k === 0 ? null : Math.floor((k * pages) / n),
        toPage: n === 1 || k === n - 1 ? null : Math.floor(((k + 1) * pages) / n),
      });
    }
  });
  return plan.sort((a, b) => b.bytes - a.bytes);
}

type DumpProgressEvent = Parameters<NonNullable<RunContext['opts']['onProgress']>>[0];

/**
 * The data phase's progress event: COPY text read so far against an estimate of the total (the tables' heap sizes,
 * which COPY text of Axisor rows comes close to). The estimate is never shown below what was already read, so the
 * percentage stays under 100 until the last stream ends, and the renderer can give a rate and an ETA.
 */
export function dumpProgress(phase: string, s: { rawDone: number; estimate: number; doneChunks: number; chunks: number }): DumpProgressEvent {
  const finished = s.chunks > 0 && s.doneChunks === s.chunks;
  const total = finished ? s.rawDone : Math.max(s.estimate, Math.ceil(s.rawDone * 1.02) + 1);
  return { phase, done: s.rawDone, total, unit: 'bytes', message: `${s.doneChunks}/${s.chunks} data streams` };
}

export interface FullParams {
  info: ServerInfo;
  schemaOnly: boolean;
  slotName: string | null;
}

/** Writes a full or schema-only backup into ctx.tmpDir and returns its manifest (not yet published). */
export async function writeFullBackup(ctx: RunContext, p: FullParams): Promise<Manifest> {
  const { config, opts } = ctx;
  const conn = config.connection;
  const pgDump = await findPgTool('pg_dump', { minMajor: p.info.major, env: opts.env });
  const ph = ctx.phases;
  const cpu0 = process.cpuUsage();
  let t = performance.now();
  const snap = await exportSnapshot(config, p.slotName);
  ph.snapshotMs = Math.round(performance.now() - t);
  const meta = await connectClient(config, { applicationName: 'axisor-db backup (meta)', statementTimeoutMs: 0 });
  try {
    // The catalog, the table locks and the sequences are read in the snapshot every data stream imports.
    const read = await withTransaction(meta, { isolationLevel: 'repeatable read', readOnly: true, snapshot: snap.name, mapErrors: false }, async () => {
      const consistentAt = (await meta.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;
      // Each table's data format, decided once: its streams and its manifest entry use it.
      const tables = (await listTables(meta)).map((t) => ({ ...t, copyFormat: copyFormatOf(t, opts.copyFormat) }));
      // Like pg_dump: hold ACCESS SHARE on every table until the end, so no DDL changes what we are reading.
      if (tables.length > 0) await meta.query(`LOCK TABLE ${tables.map((t) => `ONLY ${qualifiedName(t.schema, t.name)}`).join(', ')} IN ACCESS SHARE MODE`);
      const fingerprint = await schemaFingerprint(meta);
      const [{ n: largeObjects }] = (await meta.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata')).rows as [{ n: number }];
      if (largeObjects > 0) {
        const m = `${largeObjects} large objects (pg_largeobject) are not included in this backup`;
        ctx.warnings.push(m);
        opts.onWarning?.(m);
      }
      const blockSize = Number((await meta.query<{ b: string }>(`SELECT current_setting('block_size') AS b`)).rows[0]!.b);
      if (!ctx.repo) await mkdir(join(ctx.tmpDir, 'data'), { mode: DIR_MODE });
      let schemaStored: { sha256: string; bytes: number } | null = null;

      ph.catalogMs = Math.round(performance.now() - t - ph.snapshotMs);
      let rawDone = 0;
      let doneChunks = 0;
      const plan = p.schemaOnly ? [] : planChunks(tables, opts.jobs, blockSize, minChunkBytes(opts.env));
      const estimate = plan.reduce((sum, c) => sum + c.bytes, 0);
      const report = (phase: string) => opts.onProgress?.(dumpProgress(phase, { rawDone, estimate, doneChunks, chunks: plan.length }));
      const chunkResults = new Map<string, Awaited<ReturnType<typeof dumpChunk>> & { file: string }>();
      const tasks: Array<Task & { run: () => Promise<void> }> = [
        { id: 'schema', run: async () => {
          if (ctx.repo) {
            schemaStored = await dumpSchemaToRepository(ctx, pgDump, snap.name);
            return;
          }
          // The schema archive is small; pg_dump's own gzip is fine for it, and -Fc keeps pg_restore's section/-L selection.
          const s0 = performance.now();
          await runPgTool(pgDump, ['-Fc', '-s', `--snapshot=${snap.name}`, '-f', join(ctx.tmpDir, 'schema.dump'), '--no-sync'], conn, { baseEnv: opts.env });
          await chmod(join(ctx.tmpDir, 'schema.dump'), FILE_MODE); // pg_dump honours the umask; backups are owner-only
          await fsyncPath(join(ctx.tmpDir, 'schema.dump'));
          if (opts.encryptionKey) await encryptFileInPlace(join(ctx.tmpDir, 'schema.dump'), opts.encryptionKey);
          ph.schemaMs = Math.round(performance.now() - s0);
        } },
        ...plan.map((c) => ({ id: `data:${c.table}:${c.chunk}`, run: async () => {
          const t = tables[c.table]!;
          const file = `data/${String(c.table).padStart(4, '0')}-${String(c.chunk).padStart(3, '0')}.copy${ctx.codec.ext}`;
          const r = await dumpChunk({
            conn, encoding: p.info.encoding, env: opts.env, snapshot: snap.name, table: t, pages: c, codec: ctx.codec, encrypt: encryptStage(opts.encryptionKey),
            sink: ctx.repo ? storeSink((body) => ctx.repo!.repo.put(`${ctx.repo!.prefix}${file}`, body, { signal: opts.signal })) : fileSink(join(ctx.tmpDir, file)),
            onRawBytes: (n) => {
              rawDone += n;
              report('dump');
            },
          });
          chunkResults.set(`${c.table}:${c.chunk}`, { ...r, file });
          ph.streams = (ph.streams ?? 0) + 1;
          for (const [k, v] of Object.entries(r.timings)) ph[`stream${k[0]!.toUpperCase()}${k.slice(1)}`] = Math.round((ph[`stream${k[0]!.toUpperCase()}${k.slice(1)}`] ?? 0) + v);
          doneChunks++;
          report('dump');
        } })),
      ];
      opts.onProgress?.({ phase: 'dump', message: `${tables.length} tables, ${plan.length} data streams, ${opts.jobs} jobs` });
      t = performance.now();
      await runTasks(tasks, opts.jobs + (p.schemaOnly ? 0 : 1), (task) => task.run(), { signal: opts.signal });
      ph.dataMs = Math.round(performance.now() - t);
      const cpu = process.cpuUsage(cpu0);
      ph.nodeCpuMs = Math.round((cpu.user + cpu.system) / 1000);
      const sequences = await readSequences(meta);
      return { tables, chunkResults, sequences, fingerprint, consistentAt, schemaStored };
    });
    return buildManifest(ctx, p, { ...read, snapshot: snap, pgDump });
  } finally {
    await meta.end().catch(() => {});
    await snap.release();
  }
}

async function buildManifest(
  ctx: RunContext, p: FullParams,
  d: { tables: Array<SourceTable & { copyFormat: CopyFormat }>; chunkResults: Map<string, { file: string; rows: number; rawBytes: number; rowDigest: string; bytes: number; sha256: string }>; sequences: Manifest['sequences']; fingerprint: string; consistentAt: string; snapshot: { name: string; lsn: string | null; slot: string | null }; pgDump: PgTool; schemaStored: { sha256: string; bytes: number } | null },
): Promise<Manifest> {
  const files: ManifestFile[] = [{ path: 'schema.dump', ...(d.schemaStored ?? (await sha256File(join(ctx.tmpDir, 'schema.dump')))) }];
  const tables: TableEntry[] = d.tables.map((t, ti) => {
    const chunks = [...d.chunkResults.entries()].filter(([k]) => k.startsWith(`${ti}:`)).sort((a, b) => Number(a[0].split(':')[1]) - Number(b[0].split(':')[1])).map(([, r]) => {
      files.push({ path: r.file, bytes: r.bytes, sha256: r.sha256 });
      return { file: r.file, rows: r.rows, rawBytes: r.rawBytes, rowDigest: r.rowDigest };
    });
    return {
      schema: t.schema, name: t.name, columns: t.columns, ...(t.copyFormat === 'binary' ? { copyFormat: 'binary' as const } : {}), rows: chunks.reduce((s, c) => s + c.rows, 0), chunks,
      objects: t.objects, fkeys: t.fkeys, ownedSequences: t.ownedSequences, hasIdentity: !(t.replident === 'n' || (t.replident === 'd' && !t.hasPk)),
    };
  });
  const finishedAt = new Date();
  return {
    format: manifestFormatFor(tables), id: ctx.id, type: p.schemaOnly ? 'schema-only' : 'full', parent: null, chainRoot: ctx.id,
    database: p.info.database, encoding: p.info.encoding, server: { version: p.info.version, versionNum: p.info.versionNum },
    tools: { axisorDb: ctx.opts.toolVersion, pgDump: d.pgDump.version, compressor: ctx.compressorVersion },
    startedAt: ctx.startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - ctx.startedAt.getTime(),
    compression: ctx.codec.name, rowDigestAlgorithm: ROW_DIGEST_ALGORITHM, ...encryptionField(ctx),
    snapshot: { name: d.snapshot.name, lsn: d.snapshot.lsn },
    slot: d.snapshot.slot ? { name: d.snapshot.slot, plugin: PLUGIN } : null,
    lsn: null, consistentAt: d.consistentAt, commitTimes: null, schemaFingerprint: d.fingerprint,
    files, tables, sequences: d.sequences, changes: null,
    totals: { bytes: files.reduce((s, f) => s + f.bytes, 0), rawBytes: tables.reduce((s, t) => s + t.chunks.reduce((a, c) => a + c.rawBytes, 0), 0), rows: tables.reduce((s, t) => s + t.rows, 0) },
  };
}

/**
 * An S3 location: pg_dump writes the schema archive (no rows; small) into a private temporary directory, where it
 * is encrypted when a key is given, hashed and uploaded; the local copy is removed either way.
 */
async function dumpSchemaToRepository(ctx: RunContext, pgDump: PgTool, snapshot: string): Promise<{ sha256: string; bytes: number }> {
  const dir = makeOwnedTempDir('axisor-toc-');
  try {
    const file = join(dir, 'schema.dump');
    await runPgTool(pgDump, ['-Fc', '-s', `--snapshot=${snapshot}`, '-f', file, '--no-sync'], ctx.config.connection, { baseEnv: ctx.opts.env });
    await chmod(file, FILE_MODE);
    if (ctx.opts.encryptionKey) await encryptFileInPlace(file, ctx.opts.encryptionKey);
    const sum = await sha256File(file);
    await ctx.repo!.repo.put(`${ctx.repo!.prefix}schema.dump`, createReadStream(file), { signal: ctx.opts.signal });
    return sum;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
