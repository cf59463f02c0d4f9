import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = `${ROOT}bin/axisor-db`;

/** What JSON.stringify makes of a result (src/render/output.ts): bigint and Date become strings. */
export type Jsonified<T> = T extends bigint | Date ? string
  : T extends readonly (infer U)[] ? Jsonified<U>[]
  : T extends object ? { [K in keyof T]: Jsonified<T[K]> }
  : T;

/** A failed run's error (AxisorError.toJSON in src/errors.ts). */
export interface CliErrorJson {
  code: string;
  exitCode: number;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/**
 * The one --json document of a run (Output.document in src/render/output.ts); R is the command's result type.
 * A run that succeeded, or ran a check that failed (validate 2, verify 65), carries `result`; a run that failed
 * carries `error` instead. Both are typed as present: a test reads the one its assertions expect, and reading the
 * other fails the test.
 */
export interface CliDocument<R = unknown> {
  version: number;
  command: string;
  ok: boolean;
  exitCode: number;
  result: Jsonified<R>;
  error: CliErrorJson;
}

export interface CliResult<R = unknown> {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** With --json, the parsed document; undefined without --json or when stdout is not JSON (reading it then fails). */
  json: CliDocument<R>;
}

/**
 * The environment for a CLI child: the caller's, minus PG* variables, DATABASE_URL, AXISOR_* and NODE_OPTIONS,
 * so tests say exactly what they connect to; no colour.
 */
export function cliEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^PG|^DATABASE_URL$|^AXISOR_|^NODE_OPTIONS$/.test(k)) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

/** The built CLI as a child process a test can kill (runCli only returns once it exits). */
export function spawnCli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}) {
  return execa(BIN, args, { env: cliEnv(opts.env), extendEnv: false, reject: false, cwd: opts.cwd ?? ROOT });
}

/**
 * Runs the built bin/axisor-db as a user would (npm test builds first), with `cliEnv()`. R types the --json
 * document's result: runCli<ValidateReport>(['validate', '--json', ...]).
 */
export async function runCli<R = unknown>(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; execa?: Options } = {}): Promise<CliResult<R>> {
  const r = await execa(BIN, args, { env: cliEnv(opts.env), extendEnv: false, reject: false, cwd: opts.cwd ?? ROOT, ...opts.execa });
  const stdout = String(r.stdout ?? '');
  let json: CliDocument<R> | undefined;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(stdout) as CliDocument<R>;
    } catch {
      json = undefined;
    }
  }
  return { exitCode: r.exitCode ?? -1, stdout, stderr: String(r.stderr ?? ''), json: json! };
}
