import type { Writable } from 'node:stream';

/** Everything a command may take from the process, passed in so nothing below commands/ touches globals. */
export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  osUser?: string;
  stdout: Writable;
  stderr: Writable;
  isTTY: boolean;
  /** Aborted on SIGINT/SIGTERM; long-running services watch it and clean up. */
  signal: AbortSignal;
}
