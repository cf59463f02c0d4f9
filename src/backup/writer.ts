import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { spawnChild } from '../pgtools/children.ts';
import { ToolError } from '../errors.ts';
import { stderrTail } from '../pgtools/index.ts';
import type { Codec } from './compress.ts';
import { FILE_MODE, fsyncPath } from './fsx.ts';

export interface CompressedWriter {
  write(data: string | Buffer): Promise<void>;
  /** Flushes, waits for the compressor, fsyncs; returns the file's size and sha256. */
  close(): Promise<{ bytes: number; sha256: string; rawBytes: number }>;
  abort(): void;
}

/** A file written through the compressor with its sha256 computed on the way (no second read). */
export function openCompressedWriter(codec: Codec, outPath: string, env: Readonly<Record<string, string | undefined>>, encrypt: Transform | null = null): CompressedWriter {
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
  const out = createWriteStream(outPath, { mode: FILE_MODE, flags: 'wx' });
  const comp = codec.compress ? spawnChild(codec.compress.bin, codec.compress.args, { env: { PATH: env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: 'pipe', stdout: 'pipe', buffer: { stdout: false, stderr: true } }) : null;
  // With a key, the compressed bytes are encrypted before they are hashed and stored (the manifest sums stored bytes).
  const sink: Writable = comp ? (comp.stdin as Writable) : (encrypt ?? hasher);
  const done = comp ? (encrypt ? pipeline(comp.stdout as Readable, encrypt, hasher, out) : pipeline(comp.stdout as Readable, hasher, out))
    : encrypt ? pipeline(encrypt, hasher, out) : pipeline(hasher, out);
  done.catch(() => {});
  return {
    async write(data) {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      rawBytes += buf.length;
      if (!sink.write(buf)) await new Promise<void>((resolve, reject) => {
        // Remove both listeners whichever fires, or every back-pressure wait leaks one (MaxListenersExceededWarning).
        const onDrain = () => (sink.off('error', onError), resolve());
        const onError = (err: Error) => (sink.off('drain', onDrain), reject(err));
        sink.once('drain', onDrain);
        sink.once('error', onError);
      });
    },
    async close() {
      sink.end();
      await done;
      if (comp) {
        const r = await comp;
        if (r.exitCode !== 0) throw new ToolError('failed', `${codec.compress!.bin} failed (exit ${r.exitCode})`, { stderrTail: stderrTail(r.stderr) });
      }
      await fsyncPath(outPath);
      return { bytes, sha256: hash.digest('hex'), rawBytes };
    },
    abort() {
      if (comp && comp.exitCode === null) comp.kill('SIGKILL');
      out.destroy();
    },
  };
}
