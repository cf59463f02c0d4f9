// Where the bytes of a data stream go and come from: sinks for a backup stream (a local file, a repository upload,
// a writer's stored end) and the source of a restore stream. A new repository backend replaces these, not the streams.
import { createReadStream, createWriteStream } from 'node:fs';
import { PassThrough, pipeline as pipelineCb, type Readable, type Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncPath, FILE_MODE } from './fsx.ts';

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
