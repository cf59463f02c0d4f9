/**
 * The one task runner. Backup's data streams and verify's table comparisons use it without dependencies (the
 * tasks start in the order given); restore adds dependencies, critical-path weights and PostgreSQL's lock
 * conflicts (restore/schedule.ts).
 */

/** One unit of work for runTasks. */
export interface Task {
  /** What `deps` and messages name it by. */
  id: string;
  /** Ids of the tasks that must have finished first. */
  deps?: readonly string[];
  /** Heavier tasks start first among the startable ones; equal weights (and none) keep the order given. */
  weight?: number;
}

export interface RunTasksOptions<T> {
  /** Two tasks that must not run at once (restore: locks that conflict, so a session would only wait on the server). */
  conflicts?: (a: T, b: T) => boolean;
  /** Checked before each start: once aborted, nothing new starts and the reason is thrown after the running ones settle. */
  signal?: AbortSignal;
}

interface RunState<T, R> {
  /** Not started yet, heaviest first (runTasks sorts once, so nextTask takes the first that fits). */
  pending: T[];
  running: T[];
  done: Set<string>;
  /** Each task's index in the input, so results come back in input order whatever the start order. */
  slot: Map<T, number>;
  results: R[];
  inFlight: Set<Promise<void>>;
  /** Boxed so that a task rejecting with null or undefined still counts as a failure. */
  failure: { error: unknown } | null;
  /** Resolves runTasks's wait for a free slot. */
  wake: () => void;
}

/**
 * The next task to start, or null: the first in `pending` (in preference order) whose dependencies are done and
 * that conflicts with no running task. Pure: the scheduler's policy, unit-tested.
 */
export function nextTask<T extends Task>(pending: readonly T[], done: ReadonlySet<string>, running: readonly T[], conflicts?: (a: T, b: T) => boolean): T | null {
  return pending.find((t) => (t.deps ?? []).every((d) => done.has(d)) && !(conflicts && running.some((r) => conflicts(t, r)))) ?? null;
}

/**
 * Runs `run` on each task with at most `limit` at once, heaviest startable first. Returns the results in input
 * order. The first failure stops new starts and is rethrown after the running ones settle (callers abort the
 * children of those). A task whose dependencies can never finish is a bug (a cycle).
 */
export async function runTasks<T extends Task, R>(tasks: readonly T[], limit: number, run: (t: T, running: readonly T[]) => Promise<R>, opts: RunTasksOptions<T> = {}): Promise<R[]> {
  checkGraph(tasks);
  const s = newRun<T, R>(tasks);
  while (s.failure === null && s.pending.length > 0) {
    if (opts.signal?.aborted) {
      s.failure = { error: opts.signal.reason ?? new Error('aborted') };
      break;
    }
    const t = s.running.length < Math.max(1, limit) ? nextTask(s.pending, s.done, s.running, opts.conflicts) : null;
    if (t) start(s, t, run);
    else if (s.running.length === 0) throw new Error(`internal: tasks ${s.pending.map((x) => x.id).join(', ')} can never start (dependency cycle)`);
    else {
      await new Promise<void>((r) => {
        s.wake = r;
      });
    }
  }
  await Promise.all(s.inFlight);
  if (s.failure !== null) throw s.failure.error;
  return s.results;
}

function checkGraph(tasks: readonly Task[]): void {
  const ids = new Set(tasks.map((t) => t.id));
  for (const t of tasks) for (const d of t.deps ?? []) if (!ids.has(d)) throw new Error(`internal: task ${t.id} depends on unknown task ${d}`);
}

function newRun<T extends Task, R>(tasks: readonly T[]): RunState<T, R> {
  return {
    // Sorted once, so nextTask takes the first that fits: a run without dependencies (backup's thousands of
    // streams) stays linear. Array.prototype.sort is stable (ES2019): equal weights keep the order given.
    pending: [...tasks].sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0)),
    running: [], done: new Set(), slot: new Map(tasks.map((t, i) => [t, i])), results: new Array<R>(tasks.length),
    inFlight: new Set(), failure: null, wake: () => {},
  };
}

function start<T extends Task, R>(s: RunState<T, R>, t: T, run: (t: T, running: readonly T[]) => Promise<R>): void {
  s.pending.splice(s.pending.indexOf(t), 1);
  s.running.push(t);
  // The async wrapper turns a synchronous throw into a rejection, so it is this task's failure, not runTasks's.
  const p: Promise<void> = (async () => run(t, s.running))().then((r) => {
    s.results[s.slot.get(t)!] = r;
    s.done.add(t.id);
  }, (err: unknown) => {
    s.failure ??= { error: err };
  }).finally(() => {
    s.running.splice(s.running.indexOf(t), 1);
    s.inFlight.delete(p);
    s.wake();
  });
  s.inFlight.add(p);
}
