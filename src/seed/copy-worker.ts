import { parentPort, workerData } from 'node:worker_threads';
import { BinaryCopyEncoder } from './binary-copy.ts';
import { blockChunk, CHUNK_BYTES, planSource, seedTable } from './generate.ts';
import { IdFactory } from './ids.ts';
import type { SeedSettings } from './options.ts';

/**
 * Generator thread k of n: makes blocks k, k + n, k + 2n, ... of a table's COPY stream while the main thread
 * streams earlier blocks to the server, so generation and the backend's COPY run on different CPUs. Flow control:
 * `inFlight[k]` counts blocks sent but not yet taken by the main thread; the worker blocks (Atomics.wait) at
 * `maxInFlight`.
 */
interface WorkerInput {
  settings: SeedSettings;
  index: number;
  workers: number;
  inFlight: SharedArrayBuffer;
  maxInFlight: number;
}

const { settings, index, workers, inFlight, maxInFlight } = workerData as WorkerInput;
const counter = new Int32Array(inFlight);
const planOf = planSource(settings);
const ctx = { s: settings, ids: new IdFactory(settings.seed) };
const enc = new BinaryCopyEncoder(CHUNK_BYTES + 64 * 1024);

parentPort!.on('message', (msg: { table: string; blockUsers: number; blocks: number }) => {
  try {
    const table = seedTable(msg.table);
    for (let b = index; b < msg.blocks; b += workers) {
      while (Atomics.load(counter, index) >= maxInFlight) Atomics.wait(counter, index, Atomics.load(counter, index), 1000);
      Atomics.add(counter, index, 1);
      const { chunk, rows } = blockChunk(table, settings, planOf, ctx, enc, b, msg.blockUsers);
      // A chunk owns its ArrayBuffer (BinaryCopyEncoder.take allocates a fresh one), so it can be transferred.
      const ab = chunk.buffer as ArrayBuffer;
      parentPort!.postMessage({ type: 'block', block: b, buffer: ab, offset: chunk.byteOffset, length: chunk.length, rows }, [ab]);
    }
  } catch (err) {
    parentPort!.postMessage({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  }
});
