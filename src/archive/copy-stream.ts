import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { PassThrough, pipeline as pipelineCb, Transform, type Readable, type Writable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { connectMidRun } from '../db/connect.ts';
import { toDatabaseError } from '../db/errors.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { withTransaction } from '../db/transaction.ts';
import { asciiIdentifiers } from '../db/ident.ts';
import { pipeline } from 'node:stream/promises';
import type { ResultPromise } from 'execa';
import { spawnChild } from '../pgtools/children.ts';
import type { ConnectionSettings } from '../config/types.ts';
import { ToolError } from '../errors.ts';
import { childFailure, firstErrorLine, stderrTail } from '../pgtools/index.ts';
import type { Codec } from './compress.ts';
import { fsyncPath, FILE_MODE } from './fsx.ts';
import { CopyOutStream } from './copy-out.ts';
import { RowDigest } from './row-digest.ts';
import { valueSettingsSql } from './value-settings.ts';
import { columnList, qualifiedName } from '../db/ident.ts';

/**
 * COPY … TO STDOUT of a table's columns in manifest order: the whole table, or (a stream of a big table's full
 * backup) the pages [fromPage, toPage) by ctid range. The restore drill reads the whole table back the same way.
 */
export function copyOutSql(t: { schema: string; name: string; columns: string[] }, p: { fromPage: number | null; toPage: number | null } = { fromPage: null, toPage: null }): string {
  const cols = columnList(t.columns);
  if (p.fromPage === null && p.toPage === null) return `COPY ${qualifiedName(t.schema, t.name)} (${cols}) TO STDOUT`;
  const where = [p.fromPage !== null ? `ctid >= '(${p.fromPage},0)'::tid` : '', p.toPage !== null ? `ctid < '(${p.toPage},0)'::tid` : ''].filter(Boolean).join(' AND ');
  return `COPY (SELECT ${cols} FROM ONLY ${qualifiedName(t.schema, t.name)} WHERE ${where}) TO STDOUT`;
}

/** The value settings (src/archive/value-settings.ts), plus: every COPY reads its table from the first page. */
const COPY_EXTRA = [['synchronize_seqscans', 'off']] as const;

export interface ChunkDumpResult {
  rows: number;
  rawBytes: number;
  /** Order-independent digest of the rows' COPY text (see row-digest.ts). */
  rowDigest: string;
  bytes: number;
  sha256: string;
}

async function checkExit(p: ResultPromise, what: string): Promise<void> {
  const r = await p;
  if (r.exitCode !== 0 || r.signal) {
    const tail = stderrTail(r.stderr);
    const first = firstErrorLine(String(r.stderr ?? ''));
    const refused = childFailure(p, r.stderr); // a refused login or a missing privilege keeps its own code (68/78, 67)
    if (refused) throw refused;
    throw new ToolError('failed', `${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`})${first ? `: ${first}` : ''}`, { stderrTail: tail });
  }
}

function killAll(...ps: Array<ResultPromise | null>): void {
  for (const p of ps) if (p && p.exitCode === null) p.kill('SIGKILL');
}

/** Where the compressed bytes of one data stream go: today a new owner-only file, fsynced before it counts. */
export interface ChunkSink {
  stream: Writable;
  /** Called after the stream finished: makes the bytes durable (fsync). */
  commit(): Promise<void>;
}

export function fileSink(outPath: string): ChunkSink {
  return { stream: createWriteStream(outPath, { mode: FILE_MODE, flags: 'wx', highWaterMark: 1 << 20 }), commit: () => fsyncPath(outPath) };
}

/**
 * A sink that streams into a repository upload (S3 multipart; nothing touches the local disk): `store` consumes the
 * readable side, and commit waits for the upload to complete.
 */
export function storeSink(store: (body: Readable) => Promise<unknown>): ChunkSink {
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const done = store(body);
  done.catch(() => {});
  return { stream: body, commit: async () => void (await done) };
}

/** The stored end of a writer: [encrypt ->] hash -> a local file, or -> a repository upload. */
export function toSink(src: Readable, encrypt: Transform | null, hasher: Transform, out: Writable | null, store: ((body: Readable) => Promise<unknown>) | null): Promise<unknown> {
  if (store) return store(encrypt ? pipelineCb(src, encrypt, hasher, () => {}) : pipelineCb(src, hasher, () => {}));
  return encrypt ? pipeline(src, encrypt, hasher, out!) : pipeline(src, hasher, out!);
}

/** Where restore reads the (compressed) bytes of one data stream from: today a local file. */
export function fileSource(path: string): Readable {
  return createReadStream(path, { highWaterMark: 1 << 20 });
}

/**
 * The SET statement that pins the session settings of every COPY in and out, on a connection of our own: COPY text
 * of the same rows must be byte-identical in the backup and in a restored copy (the drill compares digests), so
 * nothing may depend on the user's defaults.
 */
export function copySessionSql(encoding: string): string {
  return valueSettingsSql({ encoding, extra: COPY_EXTRA });
}

/** Per-stream timings (ms) for the profile: where a data stream's time went. */
export interface StreamTimings {
  /** Connect + session settings + snapshot import. */
  connectMs: number;
  /** Wall time of the COPY pipeline (server COPY, transfer, digest, compressor, write). */
  copyMs: number;
  /** CPU time in the row digest (Node main thread). */
  digestMs: number;
  /** CPU time hashing the compressed bytes (sha256). */
  fileHashMs: number;
  /** fsync of the finished file. */
  fsyncMs: number;
}

function lostOrDb(err: unknown, what: string): unknown {
  if (err instanceof Error && (err as { code?: string }).code && /^[0-9A-Z]{5}$/.test(String((err as { code?: string }).code))) return toDatabaseError(err, what);
  return err;
}

/**
 * One data stream of a full backup: COPY TO over our own connection (CopyOutStream, in the exported snapshot)
 * -> row count + row digest -> compressor -> file hash -> sink, all streaming (nothing uncompressed touches the
 * disk, no second read). The sink is committed (fsynced) at the end.
 */
export async function dumpChunk(o: {
  conn: ConnectionSettings; encoding: string; env: Readonly<Record<string, string | undefined>>; snapshot: string;
  copySql: string; codec: Codec; sink: ChunkSink; onBytes?: (n: number) => void;
  /** COPY text bytes read from the server (the progress measure: its total can be estimated from the table sizes). */
  onRawBytes?: (n: number) => void;
  /** Encrypts the compressed bytes before they are hashed and stored (the manifest sums stored bytes). */
  encrypt?: Transform | null;
}): Promise<ChunkDumpResult & { timings: StreamTimings }> {
  const t0 = performance.now();
  const client = await connectMidRun(o.conn, 'axisor-db backup (data)');
  const timings: StreamTimings = { connectMs: 0, copyMs: 0, digestMs: 0, fileHashMs: 0, fsyncMs: 0 };
  let comp: ResultPromise | null = null;
  try {
    const digest = new RowDigest();
    // The COPY text is digested and counted inside the reader, on each compacted socket chunk (no stream hop).
    const onText = (text: Buffer) => {
      const s = performance.now();
      digest.update(text);
      timings.digestMs += performance.now() - s;
      o.onRawBytes?.(text.length);
    };
    const fileHash = createHash('sha256');
    let bytes = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _e, cb) {
        const s = performance.now();
        fileHash.update(chunk);
        timings.fileHashMs += performance.now() - s;
        bytes += chunk.length;
        o.onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    let t1 = 0;
    // The exported snapshot of the backup, read only. Closed, not rolled back, on failure: the session may be in
    // the middle of the COPY.
    await withTransaction(client, { sessionSql: copySessionSql(o.encoding), isolationLevel: 'repeatable read', readOnly: true, snapshot: o.snapshot, onError: 'abandon', mapErrors: false }, async () => {
      timings.connectMs = performance.now() - t0;
      t1 = performance.now();
      comp = o.codec.compress ? spawnChild(o.codec.compress.bin, o.codec.compress.args, { env: { PATH: o.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: 'pipe', stdout: 'pipe', buffer: { stdout: false, stderr: true } }) : null;
      const source = client.query(new CopyOutStream(asciiIdentifiers(o.copySql), onText));
      try {
        if (comp) {
          await Promise.all([
            pipeline(source, comp.stdin as Writable),
            o.encrypt ? pipeline(comp.stdout as Readable, o.encrypt, hasher, o.sink.stream) : pipeline(comp.stdout as Readable, hasher, o.sink.stream),
            checkExit(comp, o.codec.compress!.bin),
          ]);
        } else if (o.encrypt) {
          await pipeline(source, o.encrypt, hasher, o.sink.stream);
        } else {
          await pipeline(source, hasher, o.sink.stream);
        }
      } catch (err) {
        killAll(comp);
        throw lostOrDb(err, 'COPY TO');
      }
    });
    timings.copyMs = performance.now() - t1;
    const t2 = performance.now();
    await o.sink.commit();
    timings.fsyncMs = performance.now() - t2;
    return { rows: digest.rows, rawBytes: digest.bytes, rowDigest: digest.digest(), bytes, sha256: fileHash.digest('hex'), timings };
  } finally {
    killAll(comp);
    await client.end().catch(() => {});
  }
}

/** Per-stream restore timings (ms). */
export interface LoadTimings {
  connectMs: number;
  /** Wall time of read -> decompressor -> COPY FROM (server parsing and writing the rows). */
  copyMs: number;
  frozen: boolean;
}

/**
 * Loads one chunk into a table over our own connection: source -> decompressor -> COPY FROM STDIN (pg-copy-streams).
 * With `freeze`, the table is truncated in the same transaction and loaded with COPY ... FREEZE (rows are written
 * frozen: no hint-bit rewrite and no anti-wraparound vacuum of the whole table later); only for a table loaded by
 * this one stream.
 */
export async function loadChunk(o: {
  conn: ConnectionSettings; encoding: string; env: Readonly<Record<string, string | undefined>>; source: Readable; codec: Codec;
  table: string; columns: string; freeze: boolean;
}): Promise<LoadTimings> {
  const t0 = performance.now();
  const client = await connectMidRun(o.conn, 'axisor-db restore (data)');
  let d: ResultPromise | null = null;
  try {
    await client.query(copySessionSql(o.encoding));
    const connectMs = performance.now() - t0;
    let t1 = 0;
    const load = async () => {
      t1 = performance.now();
      const dec = o.codec.decompress ? o.codec.decompress('-') : null;
      d = dec ? spawnChild(dec.bin, dec.args, { env: { PATH: o.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: 'pipe', stdout: 'pipe', buffer: { stdout: false, stderr: true } }) : null;
      const sink = client.query(copyFrom(asciiIdentifiers(`COPY ${o.table} (${o.columns}) FROM STDIN${o.freeze ? ' WITH (FREEZE)' : ''}`)));
      try {
        if (d) {
          await Promise.all([
            pipeline(o.source, d.stdin as Writable),
            pipeline(d.stdout as Readable, sink),
            checkExit(d, dec!.bin),
          ]);
        } else {
          await pipeline(o.source, sink);
        }
      } catch (err) {
        killAll(d);
        o.source.destroy();
        throw lostOrDb(err, `COPY FROM into ${o.table}`);
      }
    };
    // FREEZE needs the table emptied in the loading transaction. Closed, not rolled back, on failure: the session
    // may be in the middle of the COPY.
    if (o.freeze) {
      await withTransaction(client, { onError: 'abandon', mapErrors: false }, async () => {
        await client.query(asciiIdentifiers(`TRUNCATE ONLY ${o.table}`));
        await load();
      }).catch((err) => {
        throw lostOrDb(err, `COPY FROM into ${o.table}`); // the COMMIT's failure, named like the COPY's
      });
    } else {
      await load();
    }
    return { connectMs, copyMs: performance.now() - t1, frozen: o.freeze };
  } finally {
    killAll(d);
    await client.end().catch(() => {});
  }
}

/**
 * The row digest of a backup file, recomputed from its (checksummed) content: how manifests written before row
 * digests existed are compared with a restored copy.
 */
export async function digestBackupFile(o: { file: string; codec: Codec; env: Readonly<Record<string, string | undefined>>; source?: Readable | null }): Promise<{ rows: number; rowDigest: string }> {
  const d = new RowDigest();
  const src = o.source ?? null;
  const dec = o.codec.decompress ? o.codec.decompress(src ? '-' : o.file) : null;
  if (!dec) {
    for await (const chunk of src ?? createReadStream(o.file, { highWaterMark: 1 << 20 })) d.update(chunk as Buffer);
  } else {
    const p = spawnChild(dec.bin, dec.args, { env: { PATH: o.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: src ? 'pipe' : 'ignore', stdout: 'pipe', buffer: { stdout: false, stderr: true } });
    try {
      await Promise.all([
        src ? pipeline(src, p.stdin as Writable) : Promise.resolve(),
        (async () => {
          for await (const chunk of p.stdout as AsyncIterable<Buffer>) d.update(chunk);
        })(),
        checkExit(p, dec.bin),
      ]);
    } catch (err) {
      killAll(p);
      throw err;
    }
  }
  const rowDigest = d.digest();
  return { rows: d.rows, rowDigest };
}

/**
 * The drill's order-independent fingerprint of a restored table: read back the way a backup stream reads it (our
 * own connection, the same pinned COPY session, CopyOutStream digesting each chunk), so both sides of the
 * comparison come from one mechanism.
 */
export async function digestTable(o: { conn: ConnectionSettings; encoding: string; copySql: string; role: string }): Promise<{ rows: number; rowDigest: string }> {
  const client = await connectMidRun(o.conn, 'axisor-db verify (compare)');
  const d = new RowDigest();
  try {
    await client.query(copySessionSql(o.encoding));
    await mapPrivilege({ role: o.role, database: o.conn.database, action: `read back ${o.copySql.replace(/^COPY (.*?) \(.*$/, '$1')} for the verify drill` }, async () => {
      const source = client.query(new CopyOutStream(asciiIdentifiers(o.copySql), (text) => d.update(text)));
      try {
        // The text is digested inside the reader; what it pushes on is only drained here.
        for await (const _chunk of source) { /* drained */ }
      } catch (err) {
        throw lostOrDb(err, 'COPY TO');
      }
    });
    return { rows: d.rows, rowDigest: d.digest() };
  } finally {
    await client.end().catch(() => {});
  }
}
