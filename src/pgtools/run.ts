import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options, ResultPromise } from 'execa';
import { spawnChild } from './children.ts';
import { makeOwnedTempDir, sweepTempDirsOnce } from './tempdirs.ts';
import type { ConnectionSettings } from '../config/types.ts';
import { redact } from '../config/secrets.ts';
import { ToolError } from '../errors.ts';
import { mapToolConnectFailure } from '../db/errors.ts';
import { privilegeFromToolOutput, type PrivilegeContext } from '../db/privilege.ts';
import type { PgTool } from './find.ts';
import { decodeServerText } from './text-encoding.ts';

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
 * One private passfile per password per process, shared by its children and removed when the last user releases
 * it (and on exit). It lives in `<tmp>/axisor-pass-<pid>-<start>-XXXXXX/` so that after a kill -9 the next run
 * removes it (sweepTempDirs: only directories of dead owners).
 */
const passfiles = new Map<string, { dir: string; file: string; refs: number }>();
let passfileExitHook = false;

function acquirePassfile(password: string): { file: string; release: () => void } {
  sweepTempDirsOnce();
  let entry = passfiles.get(password);
  if (!entry) {
    const dir = makeOwnedTempDir('axisor-pass-');
    const file = join(dir, 'pgpass');
    writeFileSync(file, `*:*:*:*:${escapePassfileField(password)}\n`, { mode: 0o600 });
    entry = { dir, file, refs: 0 };
    passfiles.set(password, entry);
    if (!passfileExitHook) {
      passfileExitHook = true;
      process.on('exit', () => {
        for (const e of passfiles.values()) rmSync(e.dir, { recursive: true, force: true });
      });
    }
  }
  entry.refs++;
  const e = entry;
  let released = false;
  return {
    file: e.file,
    release: () => {
      if (released) return;
      released = true;
      if (--e.refs === 0) {
        passfiles.delete(password);
        rmSync(e.dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Writes the password to a private passfile (0600 in a 0700 directory) for the duration of `fn`, so it
 * never appears on a command line or in the child's environment (`ps e` shows environments).
 * Without a password, returns no PGPASSFILE and libpq uses the user's own ~/.pgpass.
 */
export async function withPassfile<T>(c: ConnectionSettings, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  if (c.password === undefined) return fn({});
  const pf = acquirePassfile(c.password);
  try {
    return await fn({ PGPASSFILE: pf.file });
  } finally {
    pf.release();
  }
}

export interface RunToolOptions {
  /** The process environment to start from (PATH, HOME, LANG...). PG* connection variables are replaced. */
  baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Connect to this database instead of the connection's. */
  database?: string;
  /** Extra execa options (input, stdout: 'pipe' ...). */
  execa?: Options;
  /** What the tool was doing and the alternative to a GRANT, for the privilege error (exit 67) of a refusal. */
  privilege?: Pick<PrivilegeContext, 'action' | 'alternative'>;
  /** The PostgreSQL encoding stdout is in (pg_restore -f - prints the archive's): decoded from it, not as UTF-8. */
  outputEncoding?: string;
}

/** The privilege error (67) for a failed child's stderr, with the role it connected as, or null. */
export function toolPrivilegeError(stderr: string, c: ConnectionSettings, opts: Pick<RunToolOptions, 'database' | 'privilege'> = {}) {
  return privilegeFromToolOutput(stderr, { role: c.user, database: opts.database ?? c.database, ...opts.privilege });
}

/** Connection and options of children started by spawnPgTool, so their callers can map a refusal (childFailure). */
const spawned = new WeakMap<object, { c: ConnectionSettings; opts: RunToolOptions }>();

/**
 * For a child started by spawnPgTool that failed: its connection refusal (68/78) or missing privilege (67) as the
 * Node driver would report it, or null (the caller throws its ToolError).
 */
export function childFailure(child: object, stderr: unknown): Error | null {
  const s = spawned.get(child);
  if (!s) return null;
  const tail = stderrTail(stderr);
  return mapToolConnectFailure(tail, s.c) ?? toolPrivilegeError(tail, s.c, s.opts);
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

/**
 * The line that says what went wrong: the first error line of the tool's stderr (with its DETAIL), not the last,
 * which for `pg_restore -j` is "a worker process died unexpectedly" while the cause (a constraint violation, a
 * missing role) comes first. Falls back to the last lines.
 */
export function firstErrorLine(stderr: string): string {
  const lines = redact(stderr).split('\n').map((l) => l.trim()).filter(Boolean);
  const noise = /worker process died unexpectedly|errors ignored on restore|^pg_restore: (warning|from TOC entry)|^Command was:/i;
  const i = lines.findIndex((l) => /\b(error|ERROR|FATAL|PANIC):/.test(l) && !noise.test(l));
  if (i === -1) return lines.slice(-3).join(' | ');
  const detail = lines.slice(i + 1, i + 3).find((l) => /^(DETAIL|HINT):/.test(l));
  const last = lines[lines.length - 1]!;
  return `${lines[i]}${detail ? ` ${detail}` : ''}${last !== lines[i] && i < lines.length - 1 && !/^(DETAIL|HINT|Command was):/.test(last) ? ` (last: ${last})` : ''}`;
}

export function stderrTail(stderr: unknown): string {
  const text = typeof stderr === 'string' ? stderr : Buffer.isBuffer(stderr) ? stderr.toString('utf8') : '';
  return redact(text.slice(-STDERR_TAIL).trim());
}

/**
 * Runs a PostgreSQL program to completion with an argument array (never a shell string).
 * A non-zero exit becomes a ToolError carrying the redacted tail of stderr.
 */
/** stderr as text (bytes when the run asked for buffers): the tools' messages are ASCII or UTF-8. */
function stderrText(e: unknown): string {
  return e instanceof Uint8Array ? Buffer.from(e).toString('utf8') : String(e ?? '');
}

export async function runPgTool(tool: PgTool, args: readonly string[], c: ConnectionSettings | undefined, opts: RunToolOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const run = async (pass: Record<string, string>) => {
    const result = await spawnChild(tool.path, args, { env: childEnv(c, opts, pass), extendEnv: false, reject: false, stripFinalNewline: false, ...opts.execa, ...(opts.outputEncoding ? { encoding: 'buffer' as const } : {}) });
    if (result.exitCode !== 0 || result.signal) {
      const tail = stderrTail(stderrText(result.stderr));
      // A child that could not connect, or was refused a privilege, fails like the Node driver would (68/78, 67).
      const mapped = c ? mapToolConnectFailure(tail, c) ?? toolPrivilegeError(tail, c, opts) : null;
      if (mapped) throw mapped;
      const first = firstErrorLine(stderrText(result.stderr));
      throw new ToolError('failed', `${tool.name} failed (${result.signal ? `signal ${result.signal}` : `exit ${result.exitCode}`})${first ? `: ${first}` : ''}`, {
        stderrTail: tail,
        hint: 'rerun with --verbose for the full output of the tool',
      });
    }
    const out = result.stdout as unknown;
    return { stdout: out instanceof Uint8Array ? decodeServerText(out, opts.outputEncoding ?? 'UTF8') : String(out ?? ''), stderr: stderrText(result.stderr) };
  };
  return c ? withPassfile(c, run) : run({});
}

/**
 * Starts a PostgreSQL program without waiting (for pipelines such as pg_dump | zstd). The caller awaits the
 * returned subprocess; `cleanup` removes the passfile and must be called when the child has exited.
 */
export function spawnPgTool(tool: PgTool, args: readonly string[], c: ConnectionSettings | undefined, opts: RunToolOptions = {}): { child: ResultPromise; cleanup: () => void } {
  const pass: Record<string, string> = {};
  let release = () => {};
  if (c?.password !== undefined) {
    const pf = acquirePassfile(c.password);
    pass.PGPASSFILE = pf.file;
    release = pf.release;
  }
  const child = spawnChild(tool.path, args, { env: childEnv(c, opts, pass), extendEnv: false, reject: false, ...opts.execa });
  if (c) spawned.set(child, { c, opts });
  return { child, cleanup: release };
}
