import type { Writable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';
import { redact } from '../config/secrets.ts';
import { AxisorError } from '../errors.ts';
import { ProgressTracker, terminalProgress, type Progress } from './progress.ts';

export { formatBytes, formatProgress, type ProgressEvent, type ProgressFn } from './progress.ts';

/** Version of every --json document's envelope. Bump only on a breaking change; adding fields is not breaking. */
export const JSON_DOC_VERSION = 1;

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  /** stdout is a terminal: spinners and colour are allowed. */
  isTTY: boolean;
  stdout: Writable;
  stderr: Writable;
}

/**
 * Everything the CLI prints goes through here, and through `redact`: results on stdout, everything else on
 * stderr. With --json stdout carries exactly one JSON document. Colour and spinners only on a TTY.
 */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly isTTY: boolean;
  readonly c: ChalkInstance;
  readonly color: boolean;
  private readonly stdout: Writable;
  private readonly stderr: Writable;

  constructor(opts: OutputOptions) {
    this.json = opts.json;
    this.quiet = opts.quiet;
    this.verbose = opts.verbose;
    this.isTTY = opts.isTTY && !opts.json;
    this.stdout = opts.stdout;
    this.stderr = opts.stderr;
    this.color = opts.color && this.isTTY;
    this.c = new Chalk({ level: this.color ? 1 : 0 });
  }

  /** A human line on stdout (the result view). Suppressed by --json and --quiet. */
  print(text = ''): void {
    if (this.json || this.quiet) return;
    this.stdout.write(`${redact(text)}\n`);
  }

  /**
   * One line of free text for a table cell: whitespace collapsed, and cut with '…' at `max` characters only on a
   * terminal (piped to a file or another program, nothing is cut).
   */
  clip(text: string, max: number): string {
    const flat = text.replace(/\s+/g, ' ').trim();
    return this.isTTY && flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
  }

  /** A status line on stderr; suppressed by --quiet and --json. */
  info(text: string): void {
    if (this.quiet || this.json) return;
    this.stderr.write(`${redact(text)}\n`);
  }

  /** A warning on stderr; shown even with --json (stdout stays clean), hidden by --quiet. */
  warn(text: string): void {
    if (this.quiet) return;
    this.stderr.write(`${redact(`${this.c.yellow('warning:')} ${text}`)}\n`);
  }

  debug(text: string): void {
    if (!this.verbose) return;
    this.stderr.write(`${redact(this.c.dim(text))}\n`);
  }

  /** The one JSON document of a run. */
  document(command: string, exitCode: number, body: { result?: unknown; error?: unknown }): void {
    // ok means the run succeeded: a result with a failing exit code (verify 65, validate 2...) is not ok.
    const doc = { version: JSON_DOC_VERSION, command, ok: body.error === undefined && exitCode === 0, exitCode, ...body };
    this.stdout.write(`${redact(JSON.stringify(doc, jsonReplacer, 2))}\n`);
  }

  /** One line per error (plus hint and, with --verbose or for internal errors, the stack) on stderr. */
  error(command: string, err: AxisorError): void {
    if (this.json) {
      this.document(command, err.exitCode, { error: err.toJSON() });
    }
    const hint = err.hint ? ` ${this.c.dim(`(fix: ${err.hint})`)}` : '';
    this.stderr.write(`${redact(`${this.c.red('error:')} ${err.message}${hint}`)}\n`);
    const tail = (err as { stderrTail?: string }).stderrTail;
    if (this.verbose && tail) this.stderr.write(`${redact(tail)}\n`);
    if (this.verbose || err.code === 'internal') {
      const cause = err.cause instanceof Error ? err.cause : err;
      if (cause.stack) this.stderr.write(`${redact(this.c.dim(cause.stack))}\n`);
    }
  }

  /**
   * A progress reporter: a spinner with percentage, throughput and ETA when stderr is a terminal, lines with
   * --verbose otherwise, else silent.
   */
  async progress(): Promise<Progress> {
    if (this.quiet || this.json) return { report: () => {}, stop: () => {} };
    const tracker = new ProgressTracker();
    if (!this.isTTY || !(this.stderr as { isTTY?: boolean }).isTTY) {
      return {
        report: (e) => this.debug(tracker.format(e)),
        stop: () => {},
      };
    }
    return terminalProgress({ stream: this.stderr, c: this.c, color: this.color }, tracker);
  }
}

/** bigint as string, Error as message: JSON.stringify must never throw on a result. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { message: value.message };
  return value;
}
