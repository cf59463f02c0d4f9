// The restore's data streams: a table's stored chunks read from their source, decompressed and loaded by COPY FROM
// STDIN into the table (with FREEZE when one session loads the whole table).
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResultPromise } from 'execa';
import { from as copyFrom } from 'pg-copy-streams';
import type { ConnectionSettings } from '../config/types.ts';
import { asciiIdentifiers } from '../db/ident.ts';
import { withTransaction } from '../db/transaction.ts';
import { spawnCodec, type Codec } from './compress.ts';
import { copyInSql, copySessionSql } from './copy-sql.ts';
import type { CopyFormat } from './row-digest.ts';
import { checkExit, killAll, lostOrDb } from './stream-failure.ts';
import { connectMidRun } from '../db/connect.ts';

/** Per-stream restore timings (ms). */
export interface LoadTimings {
  connectMs: number;
  /** Wall time of read -> decompressor -> COPY FROM (server parsing and writing the rows). */
  copyMs: number;
  frozen: boolean;
}

/**
 * Loads a table's stored chunks over our own connection, one after the other: each chunk is one COPY FROM STDIN
 * (source -> decompressor -> pg-copy-streams) in the chunk's format. With `freeze`, the table is truncated and
 * all its chunks are loaded in one transaction with COPY ... FREEZE (rows are written frozen: no hint-bit rewrite
 * and no anti-wraparound vacuum of the whole table later); only for a table this one call loads. A COPY binary
 * chunk is a whole stream (header, tuples, trailer), so chunks are never concatenated into one COPY.
 */
export async function loadChunk(o: {
  conn: ConnectionSettings; encoding: string; env: Readonly<Record<string, string | undefined>>;
  /** Opens each chunk's stored bytes, in order (opened only when its COPY starts). */
  sources: Array<() => Promise<Readable>>; codec: Codec;
  table: string; columns: string; freeze: boolean;
  /** The chunks' COPY format (the table's copyFormat); absent: text. */
  format?: CopyFormat;
}): Promise<LoadTimings> {
  const t0 = performance.now();
  const client = await connectMidRun(o.conn, 'axisor-db restore (data)');
  let d: ResultPromise | null = null;
  try {
    await client.query(copySessionSql(o.encoding));
    const connectMs = performance.now() - t0;
    let t1 = 0;
    const loadOne = async (open: () => Promise<Readable>) => {
      const source = await open();
      const dec = o.codec.decompress ? o.codec.decompress('-') : null;
      d = dec ? spawnCodec(dec, o.env) : null;
      const sink = client.query(copyFrom(asciiIdentifiers(copyInSql(o.table, o.columns, o.format, o.freeze))));
      try {
        if (d) {
          await Promise.all([
            pipeline(source, d.stdin as Writable),
            pipeline(d.stdout as Readable, sink),
            checkExit(d, dec!.bin),
          ]);
        } else {
          await pipeline(source, sink);
        }
      } catch (err) {
        killAll(d);
        source.destroy();
        throw lostOrDb(err, `COPY FROM into ${o.table}`);
      }
    };
    const load = async () => {
      t1 = performance.now();
      for (const open of o.sources) await loadOne(open);
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
