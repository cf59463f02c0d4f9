/**
 * Polls until `poll` gives a value (anything but `undefined` or `false`) and returns it, instead of sleeping a fixed
 * time and hoping (a loaded machine turns a fixed sleep into a race, an idle one into a slow test). A condition
 * (`() => boolean`) waits until it holds; a probe (`() => pid | undefined`) waits for and returns its value. Fails
 * naming `what` once the timeout (ms, or `{ timeoutMs }`) has passed.
 */
export async function waitFor<T>(what: string, poll: () => T | undefined | false | Promise<T | undefined | false>,
  opts: number | { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 50 } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await poll();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** What `p` rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}
