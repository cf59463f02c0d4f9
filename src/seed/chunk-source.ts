import { Worker } from 'node:worker_threads';
import { planSource, seedTable, tableChunks } from './generate.ts';
import type { SeedSettings } from './options.ts';
import type { UserPlan } from './plan.ts';

/** Where a table's COPY chunks come from: a generator thread (built CLI) or the calling thread (sources under a test runner). */
export interface ChunkSource {
  readonly threaded: boolean;
  chunks(table: string, counter: { rows: number }): AsyncGenerator<Buffer>;
  close(): Promise<void>;
}

const MAX_IN_FLIGHT = 8;

/**
 * The worker file exists as JavaScript only in the build (dist/). When this module runs from its TypeScript source
 * (Jest, tsx) a worker could not load it, so generation stays inline; the bytes are the same either way.
 */
export function createChunkSource(s: SeedSettings, opts: { threads?: boolean } = {}): ChunkSource {
  const compiled = import.meta.url.endsWith('.js');
  if (opts.threads !== false && compiled) return new WorkerSource(s);
  return new InlineSource(s);
}

class InlineSource implements ChunkSource {
  readonly threaded = false;
  private planOf?: (u: number) => UserPlan;
  constructor(private readonly s: SeedSettings) {}

  async *chunks(table: string, counter: { rows: number }): AsyncGenerator<Buffer> {
    this.planOf ??= planSource(this.s);
    yield* tableChunks(seedTable(table), this.s, this.planOf, counter);
  }

  async close(): Promise<void> {}
}

type WorkerMessage = { type: 'chunk'; buffer: ArrayBuffer; offset: number; length: number; rows: number } | { type: 'end'; rows: number } | { type: 'error'; message: string };

class WorkerSource implements ChunkSource {
  readonly threaded = true;
  private readonly worker: Worker;
  private readonly inFlight = new Int32Array(new SharedArrayBuffer(4));
  private failure?: Error;
  private notify?: () => void;
  private readonly queue: WorkerMessage[] = [];

  constructor(s: SeedSettings) {
    this.worker = new Worker(new URL('./copy-worker.js', import.meta.url), {
      workerData: { settings: s, inFlight: this.inFlight.buffer, maxInFlight: MAX_IN_FLIGHT },
    });
    this.worker.on('message', (m: WorkerMessage) => {
      this.queue.push(m);
      this.notify?.();
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.notify?.();
    });
    this.worker.on('exit', (code) => {
      this.failure ??= new Error(`seed generator thread exited (code ${code})`);
      this.notify?.();
    });
  }

  async *chunks(table: string, counter: { rows: number }): AsyncGenerator<Buffer> {
    this.worker.postMessage({ table });
    for (;;) {
      const m = this.queue.shift();
      if (!m) {
        if (this.failure) throw this.failure;
        await new Promise<void>((resolve) => (this.notify = resolve));
        this.notify = undefined;
        continue;
      }
      if (m.type === 'error') throw new Error(`seed generator thread failed: ${m.message}`);
      counter.rows = m.rows;
      if (m.type === 'end') return;
      // Taken: let the worker produce one more.
      Atomics.sub(this.inFlight, 0, 1);
      Atomics.notify(this.inFlight, 0);
      yield Buffer.from(m.buffer, m.offset, m.length);
    }
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
