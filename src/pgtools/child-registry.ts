/**
 * The live child processes of this run (see children.ts). Kept free of imports so that src/main.ts can kill them
 * on SIGINT/SIGTERM without loading execa at start-up.
 */
export interface LiveChild {
  pid?: number;
  exitCode: number | null;
  kill(signal?: NodeJS.Signals | number): boolean;
}

export const liveChildren = new Set<LiveChild>();

/** Kills every live child's process group (synchronous: safe in an 'exit' handler). Returns how many. */
export function killChildren(signal: NodeJS.Signals = 'SIGKILL'): number {
  let n = 0;
  for (const child of liveChildren) {
    if (child.pid === undefined || child.exitCode !== null) continue;
    try {
      process.kill(-child.pid, signal);
      n++;
    } catch {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }
  return n;
}
