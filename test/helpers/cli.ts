import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = `${ROOT}bin/axisor-db`;

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  json: any;
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

/** Runs the built bin/axisor-db as a user would (npm test builds first), with `cliEnv()`. */
export async function runCli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; execa?: Options } = {}): Promise<CliResult> {
  const r = await execa(BIN, args, { env: cliEnv(opts.env), extendEnv: false, reject: false, cwd: opts.cwd ?? ROOT, ...opts.execa });
  const stdout = String(r.stdout ?? '');
  let json: any;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(stdout);
    } catch {
      json = undefined;
    }
  }
  return { exitCode: r.exitCode ?? -1, stdout, stderr: String(r.stderr ?? ''), json };
}
