// The backup's data stream: one table (or page range of it) read by COPY TO in the backup's snapshot, counted,
// row-digested, compressed, [encrypted,] hashed and handed to a sink, with the timings the profile reports.
import { createHash } from 'node:crypto';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResultPromise } from 'execa';
import type { ConnectionSettings } from '../config/types.ts';
import { asciiIdentifiers } from '../db/ident.ts';
import { withTransaction } from '../db/transaction.ts';
import { spawnCodec, streamCodec, type Codec } from './compress.ts';
import { copyOutSql, copySessionSql, type CopyTable, type PageRange } from './copy-sql.ts';
import { CopyOutStream } from './copy-out.ts';
import { rowDigestFor } from './row-digest.ts';
import type { ChunkSink } from './sinks.ts';
import { checkExit, killAll, lostOrDb } from './stream-failure.ts';
import { connectMidRun } from '../db/connect.ts';

export interface ChunkDumpResult {
  rows: number;
  rawBytes: number;
  /** Order-independent digest of the rows (see row-digest.ts). */
  rowDigest: string;
  bytes: number;
  sha256: string;
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

/**
 * One data stream of a full backup: COPY TO over our own connection (CopyOutStream, in the exported snapshot)
 * -> row count + row digest -> compressor -> file hash -> sink, all streaming (nothing uncompressed touches the
 * disk, no second read). The sink is committed (fsynced) at the end.
 */
export async function dumpChunk(o: {
  conn: ConnectionSettings; encoding: string; env: Readonly<Record<string, string | undefined>>; snapshot: string;
  /** The table, in the format its rows are written in (absent: text); its COPY, row digest and compressor follow from it. */
  table: CopyTable;
  /** The page range of a split table; absent: the whole table. */
  pages?: PageRange;
  /** The backup's codec (streamCodec picks its compressor for the table's format). */
  codec: Codec; sink: ChunkSink; onBytes?: (n: number) => void;
  /** COPY text bytes read from the server (the progress measure: its total can be estimated from the table sizes). */
  onRawBytes?: (n: number) => void;
  /** Encrypts the compressed bytes before they are hashed and stored (the manifest sums stored bytes). */
  encrypt?: Transform | null;
}): Promise<ChunkDumpResult & { timings: StreamTimings }> {
  const t0 = performance.now();
  const client = await connectMidRun(o.conn, 'axisor-db backup (data)');
  const timings: StreamTimings = { connectMs: 0, copyMs: 0, digestMs: 0, fileHashMs: 0, fsyncMs: 0 };
  let comp: ResultPromise | null = null;
  const format = o.table.copyFormat ?? 'text';
  const codec = streamCodec(o.codec, format);
  try {
    const digest = rowDigestFor(format);
    // The COPY bytes are digested and counted inside the reader, on each compacted socket chunk (no stream hop).
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
      comp = codec.compress ? spawnCodec(codec.compress, o.env) : null;
      const source = client.query(new CopyOutStream(asciiIdentifiers(copyOutSql(o.table, o.pages)), onText));
      try {
        if (comp) {
          await Promise.all([
            pipeline(source, comp.stdin as Writable),
            o.encrypt ? pipeline(comp.stdout as Readable, o.encrypt, hasher, o.sink.stream) : pipeline(comp.stdout as Readable, hasher, o.sink.stream),
            checkExit(comp, codec.compress!.bin),
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
