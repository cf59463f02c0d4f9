// The restore drill's row digests, one per side of its comparison: a backup file's rows (recomputed from the file,
// for manifests without row digests) and a restored table's rows, read back the way a backup stream reads them.
import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ConnectionSettings } from '../config/types.ts';
import { asciiIdentifiers, qualifiedName } from '../db/ident.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { spawnCodec, type Codec } from './compress.ts';
import { copyOutSql, copySessionSql } from './copy-sql.ts';
import type { TableEntry } from './manifest.ts';
import { CopyOutStream } from './copy-out.ts';
import { rowDigestFor, type CopyFormat } from './row-digest.ts';
import { checkExit, killAll, lostOrDb } from './stream-failure.ts';
import { connectMidRun } from '../db/connect.ts';

/**
 * The row digest of a backup file, recomputed from its (checksummed) content: how manifests written before row
 * digests existed are compared with a restored copy.
 */
export async function digestBackupFile(o: { file: string; codec: Codec; env: Readonly<Record<string, string | undefined>>; source?: Readable | null; format?: CopyFormat }): Promise<{ rows: number; rowDigest: string }> {
  const d = rowDigestFor(o.format);
  const src = o.source ?? null;
  const dec = o.codec.decompress ? o.codec.decompress(src ? '-' : o.file) : null;
  if (!dec) {
    for await (const chunk of src ?? createReadStream(o.file, { highWaterMark: 1 << 20 })) d.update(chunk as Buffer);
  } else {
    const p = spawnCodec(dec, o.env, src ? 'pipe' : 'ignore');
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
export async function digestTable(o: { conn: ConnectionSettings; encoding: string; table: Pick<TableEntry, 'schema' | 'name' | 'columns' | 'copyFormat'>; role: string }): Promise<{ rows: number; rowDigest: string }> {
  const client = await connectMidRun(o.conn, 'axisor-db verify (compare)');
  const d = rowDigestFor(o.table.copyFormat);
  try {
    await client.query(copySessionSql(o.encoding));
    await mapPrivilege({ role: o.role, database: o.conn.database, action: `read back ${qualifiedName(o.table.schema, o.table.name)} for the verify drill` }, async () => {
      const source = client.query(new CopyOutStream(asciiIdentifiers(copyOutSql(o.table)), (text) => d.update(text)));
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
