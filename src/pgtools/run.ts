import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Options, type ResultPromise } from 'execa';
import type { ConnectionSettings } from '../config/types.ts';
import { redact } from '../config/secrets.ts';
import { ToolError } from '../errors.ts';
import { mapToolConnectFailure } from '../db/errors.ts';
import { privilegeFromToolOutput } from '../db/privilege.ts';
import type { PgTool } from './find.ts';

const STDERR_TAIL = 2000;

/** libpq environment for a child process. The password is NOT here: it goes in a passfile (see withPassfile). */
export function libpqEnv(c: ConnectionSettings, database?: string): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: database ?? c.database,
    PGSSLMODE: c.sslMode,
    PGAPPNAME: c.applicationName,
    PGCONNECT_TIMEOUT: String(c.connectTimeoutSeconds),
  };
  if (c.sslRootCert) env.PGSSLROOTCERT = c.sslRootCert;
  if (c.sslCert) env.PGSSLCERT = c.sslCert;
  if (c.sslKey) env.PGSSLKEY = c.sslKey;
  return env;
}

function escapePassfileField(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/**
 * Writes the password to a private passfile (0600 in a 0700 directory) for the duration of `fn`, so it
 * never appears on a command line or in the child's environment (`ps e` shows environments).
 * Without a password, returns no PGPASSFILE and libpq uses the user's own ~/.pgpass.
 */
export async function withPassfile<T>(c: ConnectionSettings, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  if (c.password === undefined) return fn({});
  const dir = mkdtempSync(join(tmpdir(), 'axisor-pass-'));
  const file = join(dir, 'pgpass');
  try {
    writeFileSync(file, `*:*:*:*:${escapePassfileField(c.password)}\n`, { mode: 0o600 });
    return await fn({ PGPASSFILE: file });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RunToolOptions {
  /** The process environment to start from (PATH, HOME, LANG...). PG* connection variables are replaced. */
  baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Connect to this database instead of the connection's. */
  database?: string;
  /** Extra execa options (input, stdout: 'pipe' ...). */
  execa?: Options;
}

function childEnv(c: ConnectionSettings | undefined, opts: RunToolOptions, pass: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.baseEnv ?? {})) {
    // Drop inherited connection settings and any password: ours are explicit.
    if (v === undefined || /^PG(HOST|PORT|USER|DATABASE|PASSWORD|PASSFILE|SSLMODE|SSLROOTCERT|SSLCERT|SSLKEY|APPNAME|SERVICE)$/.test(k) || k === 'DATABASE_URL') continue;
    env[k] = v;
  }
  if (!env.PATH) env.PATH = '/usr/local/bin:/usr/bin:/bin';
  return { ...env, ...(c ? libpqEnv(c, opts.database) : {}), ...pass };
}

export function stderrTail(stderr: unknown): string {
  const text = typeof stderr === 'string' ? stderr : Buffer.isBuffer(stderr) ? stderr.toString('utf8') : '';
  return redact(text.slice(-STDERR_TAIL).trim());
}

/**
 * Runs a PostgreSQL program to completion with an argument array (never a shell string).
 * A non-zero exit becomes a ToolError carrying the redacted tail of stderr.
 */
export async function runPgTool(tool: PgTool, args: readonly string[], c: ConnectionSettings | undefined, opts: RunToolOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const run = async (pass: Record<string, string>) => {
    const result = await execa(tool.path, args, { env: childEnv(c, opts, pass), extendEnv: false, reject: false, stripFinalNewline: false, ...opts.execa });
    if (result.exitCode !== 0 || result.signal) {
      const tail = stderrTail(result.stderr);
      // A child that could not connect, or was refused a privilege, fails like the Node driver would (68/78, 67).
      const mapped = c ? mapToolConnectFailure(tail, c) ?? privilegeFromToolOutput(tail, { role: c.user, database: opts.database ?? c.database }) : null;
      if (mapped) throw mapped;
      throw new ToolError('failed', `${tool.name} failed (${result.signal ? `signal ${result.signal}` : `exit ${result.exitCode}`})${tail ? `: ${tail.split('\n').slice(-3).join(' | ')}` : ''}`, {
        stderrTail: tail,
        hint: 'rerun with --verbose for the full output of the tool',
      });
    }
    return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  };
  return c ? withPassfile(c, run) : run({});
}

/**
 * Starts a PostgreSQL program without waiting (for pipelines such as pg_dump | zstd). The caller awaits the
 * returned subprocess; `cleanup` removes the passfile and must be called when the child has exited.
 */
export function spawnPgTool(tool: PgTool, args: readonly string[], c: ConnectionSettings | undefined, opts: RunToolOptions = {}): { child: ResultPromise; cleanup: () => void } {
  let dir: string | undefined;
  const pass: Record<string, string> = {};
  if (c?.password !== undefined) {
    dir = mkdtempSync(join(tmpdir(), 'axisor-pass-'));
    const file = join(dir, 'pgpass');
    writeFileSync(file, `*:*:*:*:${escapePassfileField(c.password)}\n`, { mode: 0o600 });
    pass.PGPASSFILE = file;
  }
  const child = execa(tool.path, args, { env: childEnv(c, opts, pass), extendEnv: false, reject: false, ...opts.execa }) as ResultPromise;
  const cleanup = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  };
  return { child, cleanup };
}
