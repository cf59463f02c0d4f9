/**
 * Polls `condition` until it holds, instead of sleeping a fixed time and hoping (a loaded machine turns a fixed
 * sleep into a race, an idle one into a slow test). Fails naming `what` once `timeoutMs` has passed.
 */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, { timeoutMs = 30_000, intervalMs = 50 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
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
