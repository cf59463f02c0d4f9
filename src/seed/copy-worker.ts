import { parentPort, workerData } from 'node:worker_threads';
import { planSource, seedTable, tableChunks } from './generate.ts';
import type { SeedSettings } from './options.ts';

/**
 * Generator thread: produces a table's COPY chunks while the main thread streams the previous ones to the server,
 * so generation (here) and COPY parsing (in the backend) run on different CPUs. Flow control: `inFlight` counts
 * chunks sent but not yet taken by the main thread; the worker blocks (Atomics.wait) at `maxInFlight`.
 */
interface WorkerInput {
  settings: SeedSettings;
  inFlight: SharedArrayBuffer;
  maxInFlight: number;
}

const { settings, inFlight, maxInFlight } = workerData as WorkerInput;
const counter = new Int32Array(inFlight);
const planOf = planSource(settings);

parentPort!.on('message', (msg: { table: string }) => {
  try {
    const rows = { rows: 0 };
    for (const chunk of tableChunks(seedTable(msg.table), settings, planOf, rows)) {
      while (Atomics.load(counter, 0) >= maxInFlight) Atomics.wait(counter, 0, Atomics.load(counter, 0), 1000);
      Atomics.add(counter, 0, 1);
      // A chunk owns its ArrayBuffer (BinaryCopyEncoder.take allocates a fresh one), so it can be transferred.
      const ab = chunk.buffer as ArrayBuffer;
      parentPort!.postMessage({ type: 'chunk', buffer: ab, offset: chunk.byteOffset, length: chunk.length, rows: rows.rows }, [ab]);
    }
    parentPort!.postMessage({ type: 'end', rows: rows.rows });
  } catch (err) {
    parentPort!.postMessage({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  }
});
