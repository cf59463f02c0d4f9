import { Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import type { Connection, Submittable } from 'pg';

const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
/** Messages the server may send between CopyData messages (protocol-flow, "COPY Operations"); skipped. */
const INTERSPERSED = new Set([0x48 /* H CopyOutResponse */, 0x4e /* N notice */, 0x53 /* S parameter status */, 0x41 /* A notification */]);

/**
 * `COPY ... TO STDOUT` over a node-postgres connection, as a readable of the COPY text: a leaner replacement for
 * pg-copy-streams' copy-to on the backup's hot path. The server sends one CopyData message per row (5 header
 * bytes + about 300 bytes for a trade); pg-copy-streams takes every message out of a buffer list as its own
 * slice and concatenates them again per socket chunk. Here each socket chunk is compacted in place (the payloads
 * are moved down over the headers with copyWithin: one native move per message, no allocation per row) and the
 * compacted chunk is handed to `onText` (the row digest) and pushed on, once.
 *
 * Messages other than CopyData: the header of the copy (CopyOutResponse), notices, parameter status and
 * notifications are skipped; CopyDone ends the stream; an ErrorResponse, or anything else, hands the rest of the
 * bytes back to node-postgres, which reports the error on this stream (handleError) and finishes the query.
 * Back-pressure pauses the socket.
 */
export class CopyOutStream extends Readable implements Submittable {
  /** Rows the server reported (CommandComplete), for parity with pg-copy-streams. */
  rowCount = 0;
  private connection: Connection | null = null;
  private pgHandler: ((b: Buffer) => void) | null = null;
  private readonly onData = (chunk: Buffer) => this.parse(chunk);
  /** Header bytes of the message being read (code + 4 length bytes); its payload once hdrHave reaches 5. */
  private readonly hdr = Buffer.alloc(5);
  private hdrHave = 0;
  private code = 0;
  private remaining = 0;
  private finished = false;

  constructor(private readonly text: string, private readonly onText: ((text: Buffer) => void) | null = null, highWaterMark = 1 << 20) {
    super({ highWaterMark });
  }

  /** node-postgres' Submittable: take the socket over from its protocol parser, then send the query. */
  submit(connection: Connection): void {
    this.connection = connection;
    const s: Duplex = connection.stream;
    const listeners = s.listeners('data') as Array<(b: Buffer) => void>;
    if (listeners.length !== 1) throw new Error(`unexpected connection state for COPY (${listeners.length} data listeners)`);
    this.pgHandler = listeners[0]!;
    s.removeListener('data', this.pgHandler);
    s.on('data', this.onData);
    connection.query(this.text);
  }

  override _read(): void {
    if (!this.finished) this.connection?.stream.resume();
  }

  private parse(chunk: Buffer): void {
    if (this.finished) return;
    const n = chunk.length;
    let pos = 0; // read position in chunk
    let out = 0; // compacted COPY text in chunk[0, out)
    while (pos < n) {
      if (this.hdrHave < 5) {
        if (this.hdrHave === 0) {
          const code = chunk[pos]!;
          if (code !== COPY_DATA && code !== COPY_DONE && !INTERSPERSED.has(code)) {
            // An error (or an unexpected message): node-postgres parses it from here on.
            this.emitText(chunk, out);
            this.handBack(chunk.subarray(pos));
            return;
          }
        }
        // A header is 5 bytes; it may be split across socket chunks.
        if (this.hdrHave === 0 && n - pos >= 5) {
          this.code = chunk[pos]!;
          this.remaining = chunk.readUInt32BE(pos + 1) - 4;
          pos += 5;
          this.hdrHave = 5;
        } else {
          while (this.hdrHave < 5 && pos < n) this.hdr[this.hdrHave++] = chunk[pos++]!;
          if (this.hdrHave < 5) break;
          this.code = this.hdr[0]!;
          this.remaining = this.hdr.readUInt32BE(1) - 4;
        }
      }
      const take = Math.min(this.remaining, n - pos);
      if (this.code === COPY_DATA && take > 0) {
        if (out !== pos) chunk.copyWithin(out, pos, pos + take);
        out += take;
      }
      pos += take;
      this.remaining -= take;
      if (this.remaining === 0) {
        this.hdrHave = 0;
        if (this.code === COPY_DONE) {
          this.emitText(chunk, out);
          this.handBack(chunk.subarray(pos));
          return;
        }
      }
    }
    if (!this.emitText(chunk, out)) this.connection!.stream.pause();
  }

  /** Hands chunk[0, len) to onText and pushes it; false when the consumer wants no more for now. */
  private emitText(chunk: Buffer, len: number): boolean {
    if (len === 0) return true;
    const text = chunk.subarray(0, len);
    this.onText?.(text);
    return this.push(text);
  }

  /** The copy is over (or failed): node-postgres gets its socket back, starting with `rest`. */
  private handBack(rest: Buffer): void {
    this.finished = true;
    const s = this.connection!.stream;
    s.removeListener('data', this.onData);
    s.on('data', this.pgHandler!);
    if (rest.length > 0) this.pgHandler!(rest);
    // A paused socket (back-pressure) must flow again for node-postgres.
    process.nextTick(() => s.resume());
  }

  /** CopyDone came through: the rows are all here (CommandComplete and ReadyForQuery follow in pg's hands). */
  handleCommandComplete(msg: { text?: string } | undefined): void {
    const m = /COPY (\d+)/.exec(msg?.text ?? '');
    if (m) this.rowCount = Number(m[1]);
    this.push(null);
  }

  handleReadyForQuery(): void {}

  handleError(err: Error): void {
    this.finished = true;
    this.destroy(err);
  }
}
