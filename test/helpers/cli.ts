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
 * Runs the built bin/axisor-db as a user would (npm test builds first). The environment is clean of the
 * caller's PG* variables and DATABASE_URL so tests say exactly what they connect to.
 */
export async function runCli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; execa?: Options } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^PG|^DATABASE_URL$|^AXISOR_|^NODE_OPTIONS$/.test(k)) continue;
    env[k] = v;
  }
  const r = await execa(BIN, args, { env: { ...env, NO_COLOR: '1', ...opts.env }, extendEnv: false, reject: false, cwd: opts.cwd ?? ROOT, ...opts.execa });
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
