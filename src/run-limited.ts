/**
 * Runs async tasks with at most `limit` in flight, largest first as given. The first failure stops new starts
 * and is rethrown after the running ones settle (their children are killed by the caller's abort).
 */
export async function runLimited<T>(tasks: Array<() => Promise<T>>, limit: number, signal?: AbortSignal): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (failure === null && next < tasks.length) {
      if (signal?.aborted) {
        failure = signal.reason ?? new Error('aborted');
        break;
      }
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (err) {
        if (failure === null) failure = err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  if (failure !== null) throw failure;
  return results;
}
