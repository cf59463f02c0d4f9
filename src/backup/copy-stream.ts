import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa, type ResultPromise } from 'execa';
import type { ConnectionSettings } from '../config/types.ts';
import { ToolError } from '../errors.ts';
import { spawnPgTool, stderrTail, type PgTool } from '../pgtools/index.ts';
import type { Codec } from './compress.ts';
import { fsyncPath, FILE_MODE } from './fsx.ts';

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

/** Counts rows (COPY text ends every row with exactly one unescaped newline) and hashes the raw text. */
class CountingHash extends Transform {
  rows = 0;
  bytes = 0;
  private readonly hash = createHash('sha256');
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.rows++;
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

export interface ChunkDumpResult {
  rows: number;
  rawBytes: number;
  contentSha256: string;
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
    throw new ToolError('failed', `${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`})${tail ? `: ${tail.split('\n').slice(-2).join(' | ')}` : ''}`, { stderrTail: tail });
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
}): Promise<ChunkDumpResult> {
  const { child: psql, cleanup } = spawnPgTool(o.psql, psqlArgs([
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', `SET TRANSACTION SNAPSHOT '${o.snapshot.replace(/'/g, "''")}'`, o.copySql, 'COMMIT',
  ]), o.conn, { baseEnv: o.env, execa: { stdin: 'ignore', stdout: 'pipe', buffer: { stdout: false, stderr: true } } });
  const comp = o.codec.compress ? execa(o.codec.compress.bin, o.codec.compress.args, { env: { PATH: o.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: 'pipe', stdout: 'pipe', buffer: { stdout: false, stderr: true } }) : null;
  const counter = new CountingHash();
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
  const out = createWriteStream(o.outPath, { mode: FILE_MODE, flags: 'wx' });
  try {
    if (comp) {
      await Promise.all([
        pipeline(psql.stdout as Readable, counter, comp.stdin as Writable),
        pipeline(comp.stdout as Readable, hasher, out),
        checkExit(psql, 'psql COPY'),
        checkExit(comp, o.codec.compress!.bin),
      ]);
    } else {
      await Promise.all([pipeline(psql.stdout as Readable, counter, hasher, out), checkExit(psql, 'psql COPY')]);
    }
  } catch (err) {
    killAll(psql, comp);
    throw err;
  } finally {
    cleanup();
  }
  await fsyncPath(o.outPath);
  return { rows: counter.rows, rawBytes: counter.bytes, contentSha256: counter.digest(), bytes, sha256: fileHash.digest('hex') };
}

/** Loads one chunk file into a table: decompressor -> psql COPY FROM STDIN. */
export async function loadChunk(o: {
  psql: PgTool; conn: ConnectionSettings; env: Record<string, string | undefined>; file: string; codec: Codec; copySql: string;
}): Promise<void> {
  const dec = o.codec.decompress ? o.codec.decompress(o.file) : null;
  const { child: psql, cleanup } = spawnPgTool(o.psql, psqlArgs([o.copySql]), o.conn, {
    baseEnv: o.env, execa: dec ? { stdin: 'pipe', stdout: 'ignore' } : { stdin: { file: o.file }, stdout: 'ignore' },
  });
  const d = dec ? execa(dec.bin, dec.args, { env: { PATH: o.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdout: 'pipe', buffer: { stdout: false, stderr: true } }) : null;
  try {
    await Promise.all([
      d ? pipeline(d.stdout as Readable, psql.stdin as Writable) : Promise.resolve(),
      d ? checkExit(d, dec!.bin) : Promise.resolve(),
      checkExit(psql, 'psql COPY FROM'),
    ]);
  } catch (err) {
    killAll(psql, d);
    throw err;
  } finally {
    cleanup();
  }
}

/**
 * The drill's fingerprint: COPY a restored table out in physical order (a fresh table loaded chunk after chunk
 * keeps that order) and hash it in segments of the backed-up chunks' row counts.
 */
export async function hashTableChunks(o: {
  psql: PgTool; conn: ConnectionSettings; env: Record<string, string | undefined>; copySql: string; chunkRows: number[];
}): Promise<{ rows: number; contentSha256: string[] }> {
  const { child: psql, cleanup } = spawnPgTool(o.psql, psqlArgs([o.copySql]), o.conn, { baseEnv: o.env, execa: { stdin: 'ignore', stdout: 'pipe', buffer: { stdout: false, stderr: true } } });
  const hashes: string[] = [];
  let idx = 0;
  let left = o.chunkRows[0] ?? Infinity;
  let h = createHash('sha256');
  let rows = 0;
  const next = () => {
    hashes.push(h.digest('hex'));
    h = createHash('sha256');
    idx++;
    left = o.chunkRows[idx] ?? Infinity;
  };
  try {
    await Promise.all([
      (async () => {
        for await (const chunk of psql.stdout as AsyncIterable<Buffer>) {
          let start = 0;
          while (left === 0) next();
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) {
            rows++;
            if (--left === 0) {
              h.update(chunk.subarray(start, i + 1));
              start = i + 1;
              next();
            }
          }
          if (start < chunk.length) h.update(chunk.subarray(start));
        }
        while (idx < o.chunkRows.length) next();
      })(),
      checkExit(psql, 'psql COPY'),
    ]);
  } catch (err) {
    killAll(psql);
    throw err;
  } finally {
    cleanup();
  }
  return { rows, contentSha256: hashes.slice(0, o.chunkRows.length) };
}
