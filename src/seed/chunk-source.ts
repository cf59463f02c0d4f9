import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { blockUsersFor, planSource, seedTable, tableChunks } from './generate.ts';
import type { SeedSettings } from './options.ts';
import type { UserPlan } from './plan.ts';

/** Where a table's COPY chunks come from: generator threads (built CLI) or the calling thread (sources under a test runner). */
export interface ChunkSource {
  readonly threaded: boolean;
  /** Generator threads (0 = inline). */
  readonly threads: number;
  chunks(table: string, counter: { rows: number }): AsyncGenerator<Buffer>;
  close(): Promise<void>;
}

/** Blocks (about CHUNK_BYTES each) a thread may have made that the main thread has not taken yet. */
const MAX_IN_FLIGHT = 8;

/**
 * The worker file exists as JavaScript only in the build (dist/). When this module runs from its TypeScript source
 * (Jest, tsx) a worker could not load it, so generation stays inline; the bytes are the same either way.
 * Two threads where there are two CPUs: the small, string-heavy tables cost Node more than they cost the server's
 * COPY, so one thread kept the backend waiting there; on TradeLog the backend is the slower side either way.
 */
export function createChunkSource(s: SeedSettings, opts: { threads?: boolean } = {}): ChunkSource {
  const compiled = import.meta.url.endsWith('.js');
  if (opts.threads !== false && compiled) return new WorkerSource(s, Math.min(2, availableParallelism()));
  return new InlineSource(s);
}

class InlineSource implements ChunkSource {
  readonly threaded = false;
  readonly threads = 0;
  private planOf?: (u: number) => UserPlan;
  constructor(private readonly s: SeedSettings) {}

  async *chunks(table: string, counter: { rows: number }): AsyncGenerator<Buffer> {
    this.planOf ??= planSource(this.s);
    yield* tableChunks(seedTable(table), this.s, this.planOf, counter);
  }

  async close(): Promise<void> {}
}

type WorkerMessage = { type: 'block'; block: number; buffer: ArrayBuffer; offset: number; length: number; rows: number } | { type: 'error'; message: string };

class WorkerSource implements ChunkSource {
  readonly threaded = true;
  private readonly workers: Worker[] = [];
  private readonly inFlight: Int32Array;
  private readonly queues: WorkerMessage[][] = [];
  private failure?: Error;
  private notify?: () => void;

  constructor(private readonly s: SeedSettings, readonly threads: number) {
    this.inFlight = new Int32Array(new SharedArrayBuffer(4 * threads));
    for (let index = 0; index < threads; index++) {
      const worker = new Worker(new URL('./copy-worker.js', import.meta.url), {
        workerData: { settings: s, index, workers: threads, inFlight: this.inFlight.buffer, maxInFlight: MAX_IN_FLIGHT },
      });
      const queue: WorkerMessage[] = [];
      this.queues.push(queue);
      worker.on('message', (m: WorkerMessage) => {
        queue.push(m);
        this.wake();
      });
      worker.on('error', (err) => {
        this.failure ??= err;
        this.wake();
      });
      worker.on('exit', (code) => {
        this.failure ??= new Error(`seed generator thread exited (code ${code})`);
        this.wake();
      });
      this.workers.push(worker);
    }
  }

  private wake(): void {
    const n = this.notify;
    this.notify = undefined;
    n?.();
  }

  async *chunks(table: string, counter: { rows: number }): AsyncGenerator<Buffer> {
    const blockUsers = blockUsersFor(seedTable(table), this.s);
    const blocks = Math.ceil(this.s.users / blockUsers);
    for (const w of this.workers) w.postMessage({ table, blockUsers, blocks });
    for (let b = 0; b < blocks; b++) {
      const k = b % this.threads;
      const queue = this.queues[k]!;
      let m = queue.shift();
      while (!m) {
        if (this.failure) throw this.failure;
        await new Promise<void>((resolve) => (this.notify = resolve));
        m = queue.shift();
      }
      if (m.type === 'error') throw new Error(`seed generator thread failed: ${m.message}`);
      if (m.block !== b) throw new Error(`seed generator thread ${k} sent block ${m.block}, expected ${b}`);
      counter.rows += m.rows;
      // Taken: let that thread make one more.
      Atomics.sub(this.inFlight, k, 1);
      Atomics.notify(this.inFlight, k);
      yield Buffer.from(m.buffer, m.offset, m.length);
    }
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.removeAllListeners('exit');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
