// The restore's data stream: one stored chunk read from its source, decompressed and loaded by COPY FROM STDIN
// into its table (with FREEZE when one stream loads the whole table).
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResultPromise } from 'execa';
import { from as copyFrom } from 'pg-copy-streams';
import type { ConnectionSettings } from '../config/types.ts';
import { asciiIdentifiers } from '../db/ident.ts';
import { withTransaction } from '../db/transaction.ts';
import { spawnCodec, type Codec } from './compress.ts';
import { copySessionSql } from './copy-sql.ts';
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
      d = dec ? spawnCodec(dec, o.env) : null;
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
