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
