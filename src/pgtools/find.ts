import { readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { ToolError } from '../errors.ts';

export type PgToolName =
  | 'pg_dump' | 'pg_restore' | 'psql' | 'pg_amcheck' | 'pg_recvlogical' | 'initdb' | 'pg_ctl' | 'postgres' | 'pg_isready';

export interface PgTool {
  name: PgToolName;
  path: string;
  /** e.g. 15 */
  major: number;
  /** e.g. '15.20' */
  version: string;
}

export interface FindToolOptions {
  /** The server's major version: an older client is refused. */
  minMajor?: number;
  /** Environment to read PG_BIN and PATH from (passed in, never read from process.env here). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Extra roots to scan for <version>/bin (default /usr/lib/postgresql). */
  versionRoots?: string[];
}

/** Parses `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` and friends. */
export function parseToolVersion(output: string): { major: number; version: string } | null {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output) ?? /PostgreSQL\)?\s+(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) return null;
  return { major: Number(m[1]), version: m[2] !== undefined ? `${m[1]}.${m[2]}` : m[1]! };
}

/** Candidate directories, in search order: PG_BIN, PATH, then /usr/lib/postgresql/<newest first>/bin. */
export function candidateDirs(env: Readonly<Record<string, string | undefined>>, versionRoots = ['/usr/lib/postgresql']): string[] {
  const dirs: string[] = [];
  if (env.PG_BIN) dirs.push(env.PG_BIN);
  for (const d of (env.PATH ?? '').split(delimiter)) if (d) dirs.push(d);
  for (const root of versionRoots) {
    let versions: string[] = [];
    try {
      versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
    } catch {
      continue;
    }
    versions.sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(join(root, v, 'bin'));
  }
  return [...new Set(dirs)];
}

const cache = new Map<string, PgTool | null>();

async function probe(name: PgToolName, dir: string): Promise<PgTool | null> {
  const path = join(dir, name);
  if (cache.has(path)) return cache.get(path)!;
  let tool: PgTool | null = null;
  try {
    // A minimal environment: the caller's may hold DATABASE_URL or PGPASSWORD, and /proc/<pid>/environ of even a
    // `--version` child shows it (Debian's /usr/bin wrappers also re-export it to the real binary).
    const { stdout } = await execa(path, ['--version'], { timeout: 10_000, reject: true, env: { PATH: '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C' }, extendEnv: false });
    const v = parseToolVersion(stdout);
    if (v) tool = { name, path, ...v };
  } catch {
    tool = null;
  }
  cache.set(path, tool);
  return tool;
}

/**
 * Finds a PostgreSQL program whose major version is at least `minMajor` (pg_dump refuses servers newer
 * than itself, and an older pg_restore cannot read a newer archive). The first acceptable one in search
 * order wins; an older one found on the way is named in the error.
 */
export async function findPgTool(name: PgToolName, opts: FindToolOptions = {}): Promise<PgTool> {
  const env = opts.env ?? {};
  const tooOld: PgTool[] = [];
  for (const dir of candidateDirs(env, opts.versionRoots)) {
    const tool = await probe(name, dir);
    if (!tool) continue;
    if (opts.minMajor === undefined || tool.major >= opts.minMajor) return tool;
    tooOld.push(tool);
  }
  if (tooOld.length > 0) {
    const t = tooOld[0]!;
    throw new ToolError('too_old', `${name} ${t.version} (${t.path}) is older than the server, which needs ${name} ${opts.minMajor} or newer`, {
      hint: `install postgresql-client-${opts.minMajor} (apt-get install postgresql-client-${opts.minMajor}) or point PG_BIN at its bin directory`,
    });
  }
  throw new ToolError('missing', `${name} was not found in PG_BIN, PATH or /usr/lib/postgresql/*/bin`, {
    hint: `install the PostgreSQL client tools (apt-get install postgresql-client${opts.minMajor ? `-${opts.minMajor}` : ''}) or set PG_BIN`,
  });
}
