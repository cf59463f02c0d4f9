import type { AxisorConfig } from './config/types.ts';
import type { ProgressFn } from './progress.ts';

/**
 * What every service gets besides its own input (docs/architecture.md, section 2). Neutral: services and
 * commands import it from here; nothing in it knows the terminal.
 */
export interface ServiceContext {
  /** Resolved once by the command (src/config). */
  config: AxisorConfig;
  /** Progress as events; src/render turns them into a spinner or a line. */
  onProgress?: ProgressFn;
  /** Something the user should know that does not fail the run; the command prints it (stderr, or `warnings` in --json). */
  onWarning?: (message: string) => void;
  /** Ctrl-C / SIGTERM: a service stops and leaves the data as it was. */
  signal?: AbortSignal;
  /** The process environment, passed in: nothing below commands/ reads process.env. */
  env: Readonly<Record<string, string | undefined>>;
}

/** The one service signature: the command parses flags into `input`, calls the service, renders the result. */
export type Service<I, R> = (input: I, ctx: ServiceContext) => Promise<R>;
