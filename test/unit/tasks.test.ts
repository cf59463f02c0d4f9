import { expect, test } from '@jest/globals';
import { runTasks, type Task } from '../../src/tasks.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tasks = (n: number, weight?: (i: number) => number): Task[] => Array.from({ length: n }, (_, i) => (weight ? { id: `t${i}`, weight: weight(i) } : { id: `t${i}` }));

test('runTasks: never more than the limit at once, every slot used, results in input order', async () => {
  let now = 0;
  let peak = 0;
  const results = await runTasks(tasks(7), 3, async (t) => {
    peak = Math.max(peak, ++now);
    // Later tasks finish sooner: the results still come back in input order.
    await sleep(20 - Number(t.id.slice(1)) * 2);
    now--;
    return t.id;
  });
  expect(peak).toBe(3);
  expect(results).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
  // A limit below one still runs the tasks, one at a time.
  expect(await runTasks(tasks(2), 0, async (t) => t.id)).toEqual(['t0', 't1']);
  expect(await runTasks([], 2, async () => 1)).toEqual([]);
});

test('runTasks: starts in the order given, heavier first when weighted (equal weights keep the order given)', async () => {
  const order = async (ts: Task[]) => {
    const started: string[] = [];
    await runTasks(ts, 1, async (t) => {
      started.push(t.id);
    });
    return started;
  };
  expect(await order(tasks(4))).toEqual(['t0', 't1', 't2', 't3']);
  expect(await order(tasks(5, (i) => [1, 5, 1, 5, 3][i]!))).toEqual(['t1', 't3', 't4', 't0', 't2']);
  // Dependencies: a task starts after the ones it depends on, whatever its weight.
  expect(await order([{ id: 'a', deps: ['b'], weight: 9 }, { id: 'b', weight: 1 }])).toEqual(['b', 'a']);
});

test('runTasks: the first failure stops new starts and is rethrown after the running ones settle', async () => {
  const log: string[] = [];
  const run = runTasks(tasks(6), 2, async (t) => {
    log.push(`start ${t.id}`);
    if (t.id === 't1') {
      await sleep(5);
      throw new Error('boom t1');
    }
    // t0 outlasts t1's failure: runTasks waits for it before rejecting.
    await sleep(t.id === 't0' ? 30 : 1);
    log.push(`end ${t.id}`);
  });
  await expect(run).rejects.toThrow('boom t1');
  // Nothing started in the slot t1's failure freed, and t0 had settled before the rejection.
  expect(log).toEqual(['start t0', 'start t1', 'end t0']);
  // A synchronous throw, or a rejection with no error, is that task's failure too.
  await expect(runTasks(tasks(2), 1, (() => {
    throw new Error('sync');
  }) as () => Promise<void>)).rejects.toThrow('sync');
  await expect(runTasks(tasks(2), 1, () => Promise.reject(undefined))).rejects.toBeUndefined();
  // A task after a failed dependency never starts.
  const started: string[] = [];
  await expect(runTasks([{ id: 'f', weight: 2 }, { id: 'g', deps: ['f'] }], 2, async (t) => {
    started.push(t.id);
    throw new Error(`boom ${t.id}`);
  })).rejects.toThrow('boom f');
  expect(started).toEqual(['f']);
});

test('runTasks: once the signal aborts, nothing new starts and the reason is thrown after the running ones settle', async () => {
  const ac = new AbortController();
  const log: string[] = [];
  const run = runTasks(tasks(5), 2, async (t) => {
    log.push(`start ${t.id}`);
    if (t.id === 't0') {
      await sleep(1);
      ac.abort(new Error('stop'));
    }
    await sleep(t.id === 't0' ? 10 : 30);
    log.push(`end ${t.id}`);
  }, { signal: ac.signal });
  await expect(run).rejects.toThrow('stop');
  // Nothing started in the slot t0 freed after the abort, and t1 had settled before the rejection.
  expect(log).toEqual(['start t0', 'start t1', 'end t0', 'end t1']);
  // Aborted before the start: nothing runs.
  let ran = false;
  await expect(runTasks(tasks(1), 1, async () => {
    ran = true;
  }, { signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow('early');
  expect(ran).toBe(false);
});

test('runTasks: a dependency cycle or an unknown dependency is an internal error', async () => {
  const ok = async () => {};
  await expect(runTasks([{ id: 'h', deps: ['i'] }, { id: 'i', deps: ['h'] }], 2, ok)).rejects.toThrow(/dependency cycle/);
  await expect(runTasks([{ id: 'h', deps: ['x'] }], 2, ok)).rejects.toThrow(/unknown task x/);
});
