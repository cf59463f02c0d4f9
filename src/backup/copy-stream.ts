import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline as pipelineCb, Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResultPromise } from 'execa';
import { spawnChild } from '../pgtools/children.ts';
import type { ConnectionSettings } from '../config/types.ts';
import { ToolError } from '../errors.ts';
import { firstErrorLine, spawnPgTool, stderrTail, type PgTool } from '../pgtools/index.ts';
import type { Codec } from './compress.ts';
import { fsyncPath, FILE_MODE } from './fsx.ts';
import { RowDigest } from './row-digest.ts';

/**
 * Session settings for every COPY in and out: COPY text of the same rows must be byte-identical in the backup
 * and in a restored copy (the drill compares hashes), so nothing may depend on the user's defaults.
 */
export function copySessionEnv(env: Readonly<Record<string, string | undefined>>, encoding: string): Record<string, string | undefined> {
  return {
    ...env,
    PGCLIENTENCODING: encoding,
    PGOPTIONS: '-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=1 -c bytea_output=hex -c synchronize_seqscans=off',
  };
}

/** Counts rows and computes the order-independent row digest on the way to the compressor. */
class DigestingPassThrough extends Transform {
  readonly digest = new RowDigest();
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.digest.update(chunk);
    cb(null, chunk);
  }
}

export interface ChunkDumpResult {
  rows: number;
  rawBytes: number;
  /** Order-independent digest of the rows' COPY text (see row-digest.ts). */
  rowDigest: string;
  bytes: number;
  sha256: string;
}

function psqlArgs(commands: string[]): string[] {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...commands.flatMap((c) => ['-c', c])];
}

async function checkExit(p: ResultPromise, what: string): Promise<void> {
  const r = await p;
  if (r.exitCode !== 0 || r.signal) {
    const tail = stderrTail(r.stderr);
    const first = firstErrorLine(String(r.stderr ?? ''));
    throw new ToolError('failed', `${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`})${first ? `: ${first}` : ''}`, { stderrTail: tail });
  }
}

function killAll(...ps: Array<ResultPromise | null>): void {
  for (const p of ps) if (p && p.exitCode === null) p.kill('SIGKILL');
}

/**
 * One data stream of a full backup: psql COPY (in the exported snapshot) -> count + content hash -> compressor
 * -> file hash -> file, all streaming (nothing uncompressed touches the disk, no second read). fsynced at the end.
 */
export async function dumpChunk(o: {
  psql: PgTool; conn: ConnectionSettings; env: Record<string, string | undefined>; snapshot: string;
  copySql: string; codec: Codec; outPath: string; onBytes?: (n: number) => void;
  /** Encrypts the compressed bytes before they are hashed and stored (the manifest sums stored bytes). */
  encrypt?: Transform | null;
  /** Stores the bytes elsewhere than `outPath` (an S3 upload streamed from the pipeline; nothing touches the disk). */
  store?: ((body: Readable) => Promise<unknown>) | null;
}): Promise<ChunkDumpResult> {
  const { child: psql, cleanup } = spawnPgTool(o.psql, psqlArgs([
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', `SET TRANSACTION SNAPSHOT '${o.snapshot.replace(/'/g, "''")}'`, o.copySql, 'COMMIT',
  ]), o.conn, { baseEnv: o.env, execa: { stdin: 'ignore', stdout: 'pipe', buffer: { stdout: false, stderr: true } } });
  const comp = o.codec.compress ? spawnChild(o.codec.compress.bin, o.codec.compress.args, { env: { PATH: o.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: 'pipe', stdout: 'pipe', buffer: { stdout: false, stderr: true } }) : null;
  const counter = new DigestingPassThrough();
  const fileHash = createHash('sha256');
  let bytes = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _e, cb) {
      fileHash.update(chunk);
      bytes += chunk.length;
      o.onBytes?.(chunk.length);
      cb(null, chunk);
    },
  });
  const out = o.store ? null : createWriteStream(o.outPath, { mode: FILE_MODE, flags: 'wx' });
  try {
    if (comp) {
      await Promise.all([
        pipeline(psql.stdout as Readable, counter, comp.stdin as Writable),
        toSink(comp.stdout as Readable, o.encrypt ?? null, hasher, out, o.store ?? null),
        checkExit(psql, 'psql COPY'),
        checkExit(comp, o.codec.compress!.bin),
      ]);
    } else {
      await Promise.all([toSink(pipelineCb(psql.stdout as Readable, counter, () => {}), o.encrypt ?? null, hasher, out, o.store ?? null), checkExit(psql, 'psql COPY')]);
    }
  } catch (err) {
    killAll(psql, comp);
    throw err;
  } finally {
    cleanup();
  }
  if (out) await fsyncPath(o.outPath);
  const rowDigest = counter.digest.digest();
  return { rows: counter.digest.rows, rawBytes: counter.digest.bytes, rowDigest, bytes, sha256: fileHash.digest('hex') };
}

/** The stored end of a data stream: [encrypt ->] hash -> a local file, or -> a repository upload. */
export function toSink(src: Readable, encrypt: Transform | null, hasher: Transform, out: Writable | null, store: ((body: Readable) => Promise<unknown>) | null): Promise<unknown> {
  if (store) return store(encrypt ? pipelineCb(src, encrypt, hasher, () => {}) : pipelineCb(src, hasher, () => {}));
  return encrypt ? pipeline(src, encrypt, hasher, out!) : pipeline(src, hasher, out!);
}

/** Loads one chunk file into a table: decompressor -> psql COPY FROM STDIN. */
export async function loadChunk(o: {
  psql: PgTool; conn: ConnectionSettings; env: Record<string, string | undefined>; file: string; codec: Codec; copySql: string;
  /** The file's stored bytes come from this stream (decrypted) instead of being read from `file` by the tools. */
  source?: Readable | null;
}): Promise<void> {
  const src = o.source ?? null;
  const dec = o.codec.decompress ? o.codec.decompress(src ? '-' : o.file) : null;
  const { child: psql, cleanup } = spawnPgTool(o.psql, psqlArgs([o.copySql]), o.conn, {
    baseEnv: o.env, execa: dec || src ? { stdin: 'pipe', stdout: 'ignore' } : { stdin: { file: o.file }, stdout: 'ignore' },
  });
  const d = dec ? spawnChild(dec.bin, dec.args, { env: { PATH: o.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: src ? 'pipe' : 'ignore', stdout: 'pipe', buffer: { stdout: false, stderr: true } }) : null;
  try {
    await Promise.all([
      src ? pipeline(src, (d ? d.stdin : psql.stdin) as Writable) : Promise.resolve(),
      d ? pipeline(d.stdout as Readable, psql.stdin as Writable) : Promise.resolve(),
      d ? checkExit(d, dec!.bin) : Promise.resolve(),
      checkExit(psql, 'psql COPY FROM'),
    ]);
  } catch (err) {
    killAll(psql, d);
    src?.destroy();
    throw err;
  } finally {
    cleanup();
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

/** The drill's order-independent fingerprint: COPY a restored table out and compute its row digest. */
export async function digestTable(o: {
  psql: PgTool; conn: ConnectionSettings; env: Record<string, string | undefined>; copySql: string;
}): Promise<{ rows: number; rowDigest: string }> {
  const { child: psql, cleanup } = spawnPgTool(o.psql, psqlArgs([o.copySql]), o.conn, { baseEnv: o.env, execa: { stdin: 'ignore', stdout: 'pipe', buffer: { stdout: false, stderr: true } } });
  const d = new RowDigest();
  try {
    await Promise.all([
      (async () => {
        for await (const chunk of psql.stdout as AsyncIterable<Buffer>) d.update(chunk);
      })(),
      checkExit(psql, 'psql COPY'),
    ]);
  } catch (err) {
    killAll(psql);
    throw err;
  } finally {
    cleanup();
  }
  const rowDigest = d.digest();
  return { rows: d.rows, rowDigest };
}
