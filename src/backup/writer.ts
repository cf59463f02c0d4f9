import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { PassThrough, Transform, type Readable, type Writable } from 'node:stream';
import { ToolError } from '../errors.ts';
import { stderrTail } from '../pgtools/index.ts';
import { spawnCodec, type Codec } from '../archive/compress.ts';
import { toSink } from '../archive/sinks.ts';
import { FILE_MODE, fsyncPath } from '../archive/fsx.ts';

export interface CompressedWriter {
  write(data: string | Buffer): Promise<void>;
  /** Flushes, waits for the compressor, fsyncs; returns the file's size and sha256. */
  close(): Promise<{ bytes: number; sha256: string; rawBytes: number }>;
  abort(): void;
}

/** A file written through the compressor with its sha256 computed on the way (no second read). */
export function openCompressedWriter(codec: Codec, outPath: string, env: Readonly<Record<string, string | undefined>>, encrypt: Transform | null = null, store: ((body: Readable) => Promise<unknown>) | null = null): CompressedWriter {
  const hash = createHash('sha256');
  let bytes = 0;
  let rawBytes = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const out = store ? null : createWriteStream(outPath, { mode: FILE_MODE, flags: 'wx' });
  const comp = codec.compress ? spawnCodec(codec.compress, env) : null;
  // With a key, the compressed bytes are encrypted before they are hashed and stored (the manifest sums stored bytes).
  // Without a compressor, a pass-through is the entry (toSink pipes a readable into the stored end).
  const entry = comp ? null : new PassThrough();
  const sink: Writable = comp ? (comp.stdin as Writable) : entry!;
  const done = toSink(comp ? (comp.stdout as Readable) : entry!, encrypt, hasher, out, store);
  // The first failure anywhere downstream (a full disk on the file, a dead compressor, EPIPE on its stdin). A writer
  // waiting for 'drain' must be woken by it: once the file side has failed, the compressor stops reading and no
  // 'drain' ever comes, and a promise nobody settles let Node exit with code 13 instead of the real error.
  let failure: Error | null = null;
  let wake: ((err: Error) => void) | null = null;
  const fail = (err: Error) => {
    failure ??= err;
    wake?.(failure);
  };
  done.catch(fail);
  sink.on('error', fail);
  sink.on('close', () => fail(new Error('the compressor stopped reading its input (write EPIPE)')));
  return {
    async write(data) {
      if (failure) throw failure;
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      rawBytes += buf.length;
      if (!sink.write(buf)) await new Promise<void>((resolve, reject) => {
        if (failure) return reject(failure);
        // Remove the listener whichever way it ends, or every back-pressure wait leaks one (MaxListenersExceededWarning).
        const onDrain = () => ((wake = null), resolve());
        wake = (err) => ((wake = null), sink.off('drain', onDrain), reject(err));
        sink.once('drain', onDrain);
      });
    },
    async close() {
      if (failure) throw failure;
      sink.end();
      await done;
      if (comp) {
        const r = await comp;
        if (r.exitCode !== 0) throw new ToolError('failed', `${codec.compress!.bin} failed (exit ${r.exitCode})`, { stderrTail: stderrTail(r.stderr) });
      }
      if (out) await fsyncPath(outPath);
      return { bytes, sha256: hash.digest('hex'), rawBytes };
    },
    abort() {
      if (comp && comp.exitCode === null) comp.kill('SIGKILL');
      out?.destroy();
      entry?.destroy();
      hasher.destroy(new Error('aborted'));
    },
  };
}
