import { randomBytes } from 'node:crypto';
import { chownSync, copyFileSync, mkdtempSync, rmSync, appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';
import { PrerequisiteError, ToolError } from '../errors.ts';
import type { ConnectionSettings } from '../config/types.ts';
import type { ProgressFn } from '../progress.ts';
import { redactedUrl } from '../config/url.ts';
import { findPgTool } from './find.ts';
import { stderrTail } from './run.ts';
import { createTestCa } from './tls-certs.ts';

export interface ThrowawayClusterOptions {
  /** Server settings written to postgresql.conf, e.g. { wal_level: 'logical', shared_preload_libraries: 'pg_stat_statements' }. */
  settings?: Record<string, string | number | boolean>;
  /** Environment for finding binaries (PG_BIN, PATH). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Minimum server major version; default: the newest installed. */
  minMajor?: number;
  /** Progress as events: phase 'cluster', message 'certificates', 'initdb', 'start'. */
  onProgress?: ProgressFn;
  /**
   * 'scram': TCP connections need the superuser's password (scram-sha-256), for tests of password handling.
   * Default 'trust'. The password goes into `connection` (non-enumerable), never into `url`.
   */
  auth?: 'trust' | 'scram';
  /** The superuser's password with auth 'scram' (default: a random one). */
  superuserPassword?: string;
  /**
   * TLS with a private CA made by openssl at start: ssl = on, a server certificate for 127.0.0.1/localhost, and
   * ssl_ca_file set so pg_hba `cert` lines (client-certificate login, CN = role) work. See `ThrowawayCluster.tls`.
   */
  tls?: boolean;
  /** pg_hba.conf lines put BEFORE initdb's (first match wins), e.g. 'hostssl all app_cert 127.0.0.1/32 cert'. */
  hba?: string[];
}

export interface ClusterTls {
  /** The CA that signed the server certificate (sslrootcert for verify-ca/verify-full). */
  caFile: string;
  /** Another CA that signed nothing of this server: for wrong-CA tests. */
  wrongCaFile: string;
  /** A client certificate and key for `cn` (the role name), signed by the server's CA, key 0600 owned by the caller. */
  issueClientCert(cn: string): Promise<{ cert: string; key: string }>;
}

export interface ThrowawayCluster {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly major: number;
  /** Superuser connection to the 'postgres' database (127.0.0.1 only; carries the password with auth 'scram'). */
  readonly connection: ConnectionSettings;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  /** Present with `tls: true`. */
  readonly tls?: ClusterTls;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function confValue(v: string | number | boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return `'${v.replace(/'/g, "''")}'`;
}

const live = new Set<{ pgCtl: string; dataDir: string; base: string; asPostgres: boolean }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the owner never called stop(): an immediate shutdown and removal, synchronously.
  process.on('exit', () => {
    for (const c of live) {
      try {
        execaSync(c.asPostgres ? 'runuser' : c.pgCtl, [...(c.asPostgres ? ['-u', 'postgres', '--', c.pgCtl] : []), '-D', c.dataDir, '-m', 'immediate', '-w', 'stop'], { reject: false, stdio: 'ignore' });
        rmSync(c.base, { recursive: true, force: true });
      } catch {
        /* exiting anyway */
      }
    }
  });
}

/**
 * Starts a private PostgreSQL cluster (initdb + pg_ctl) on a free 127.0.0.1 port with chosen settings.
 * initdb and postgres refuse to run as root, so as root they run as the 'postgres' OS user via runuser,
 * in a directory that user owns. stop() shuts it down immediately and deletes everything.
 */
export async function startThrowawayCluster(opts: ThrowawayClusterOptions = {}): Promise<ThrowawayCluster> {
  const env = opts.env ?? {};
  const initdb = await findPgTool('initdb', { env: { ...env, PATH: '' }, minMajor: opts.minMajor }).catch(() => findPgTool('initdb', { env, minMajor: opts.minMajor }));
  const pgCtl = join(initdb.path.replace(/\/initdb$/, ''), 'pg_ctl');
  const runner = await clusterRunner(env);
  const base = mkdtempSync(join(tmpdir(), 'axisor-cluster-'));
  if (runner.owner) chownSync(base, runner.owner.uid, runner.owner.gid);
  const dataDir = join(base, 'data');
  const cleanupBase = () => rmSync(base, { recursive: true, force: true });
  try {
    let tls: { settings: Record<string, string | boolean>; tls: ClusterTls } | undefined;
    if (opts.tls) {
      opts.onProgress?.({ phase: 'cluster', message: 'certificates' });
      tls = await setupTls(base, runner.owner);
    }
    opts.onProgress?.({ phase: 'cluster', message: 'initdb' });
    const password = await initCluster(runner, initdb.path, base, dataDir, opts);
    if (opts.hba?.length) prependHba(dataDir, opts.hba);
    const started = await startOnFreePort(runner, pgCtl, base, dataDir, { ...tls?.settings, ...opts.settings }, opts);
    return clusterHandle({ runner, pgCtl, base, dataDir, port: started.port, major: initdb.major, password, tls: tls?.tls, cleanupBase });
  } catch (err) {
    cleanupBase();
    throw err;
  }
}

interface ClusterRunner {
  asPostgres: boolean;
  /** The postgres OS user's ids when running as root. */
  owner: { uid: number; gid: number } | null;
  run(bin: string, args: string[]): ReturnType<typeof execa>;
}

/** How initdb and pg_ctl are run: directly, or as root through runuser as the 'postgres' OS user. */
async function clusterRunner(env: Readonly<Record<string, string | undefined>>): Promise<ClusterRunner> {
  const asPostgres = typeof process.getuid === 'function' && process.getuid() === 0;
  let owner: ClusterRunner['owner'] = null;
  if (asPostgres) {
    const id = await execa('id', ['-u', 'postgres'], { reject: false });
    const g = await execa('id', ['-g', 'postgres'], { reject: false });
    if (id.exitCode !== 0) {
      throw new PrerequisiteError('no_postgres_user', 'running as root, but there is no "postgres" OS user to run initdb and postgres as', {
        hint: 'install the postgresql server package (it creates the user) or run as a non-root user',
      });
    }
    owner = { uid: Number(id.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  return {
    asPostgres,
    owner,
    run: (bin, args) => execa(asPostgres ? 'runuser' : bin, asPostgres ? ['-u', 'postgres', '--', bin, ...args] : args, { reject: false, env: { LC_ALL: 'C', PATH: env.PATH ?? '/usr/bin:/bin' }, extendEnv: false }),
  };
}

/** A private CA (and a wrong one), a server certificate for 127.0.0.1/localhost, and the settings that use them. */
async function setupTls(base: string, owner: ClusterRunner['owner']): Promise<{ settings: Record<string, string | boolean>; tls: ClusterTls }> {
  const ca = await createTestCa(join(base, 'ca'), 'axisor-test-ca');
  const wrong = await createTestCa(join(base, 'wrong-ca'), 'axisor-wrong-ca');
  const server = await ca.issue('localhost', { server: true, ...(owner ? { owner } : {}) });
  const caCopy = join(base, 'server-ca.crt');
  copyFileSync(ca.caCert, caCopy);
  if (owner) {
    chownSync(join(base, 'ca'), owner.uid, owner.gid);
    chownSync(caCopy, owner.uid, owner.gid);
  }
  return {
    settings: { ssl: true, ssl_cert_file: server.cert, ssl_key_file: server.key, ssl_ca_file: caCopy },
    tls: { caFile: ca.caCert, wrongCaFile: wrong.caCert, issueClientCert: (cn) => ca.issue(cn) },
  };
}

/** initdb: trust, or with auth 'scram' a superuser password (through a 0600 pwfile, removed at once). Returns the password. */
async function initCluster(runner: ClusterRunner, initdb: string, base: string, dataDir: string, opts: ThrowawayClusterOptions): Promise<string | undefined> {
  const password = opts.auth === 'scram' ? opts.superuserPassword ?? `pw-${randomBytes(12).toString('hex')}` : undefined;
  const authArgs = ['-A', 'trust'];
  if (password !== undefined) {
    const pwfile = join(base, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (runner.owner) chownSync(pwfile, runner.owner.uid, runner.owner.gid);
    authArgs.splice(0, 2, '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  }
  const init = await runner.run(initdb, ['-D', dataDir, '-U', 'postgres', ...authArgs, '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  if (password !== undefined) rmSync(join(base, 'pwfile'), { force: true });
  if (init.exitCode !== 0) {
    throw new ToolError('initdb', `initdb failed (exit ${init.exitCode})`, { stderrTail: stderrTail(String(init.stderr ?? '')), hint: 'check that the PostgreSQL server binaries are installed and /tmp is writable' });
  }
  return password;
}

/** pg_hba.conf lines go BEFORE initdb's: the first match wins. */
function prependHba(dataDir: string, lines: readonly string[]): void {
  const hbaFile = join(dataDir, 'pg_hba.conf');
  writeFileSync(hbaFile, `# axisor-db throwaway cluster\n${lines.join('\n')}\n${readFileSync(hbaFile, 'utf8')}`);
}

/** The postgresql.conf block for a throwaway cluster: ours first, the caller's settings override. */
export function clusterConf(port: number, socketDir: string, settings: Record<string, string | number | boolean> = {}): string {
  const all: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: socketDir,
    fsync: false, // a throwaway cluster: durability of the server itself does not matter
    synchronous_commit: false,
    full_page_writes: false,
    max_connections: 50,
    shared_buffers: '64MB',
    ...settings,
  };
  return `\n# axisor-db throwaway cluster\n${Object.entries(all).map(([k, v]) => `${k} = ${confValue(v)}`).join('\n')}\n`;
}

/** pg_ctl start on a free port; a port taken between choosing and binding is retried (3 attempts). */
async function startOnFreePort(runner: ClusterRunner, pgCtl: string, base: string, dataDir: string, settings: Record<string, string | number | boolean>, opts: ThrowawayClusterOptions): Promise<{ port: number }> {
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    appendFileSync(join(dataDir, 'postgresql.conf'), clusterConf(port, base, settings));
    opts.onProgress?.({ phase: 'cluster', message: 'start' });
    const log = join(base, 'server.log');
    const start = await runner.run(pgCtl, ['-D', dataDir, '-l', log, '-w', '-t', '60', 'start']);
    if (start.exitCode === 0) return { port };
    lastError = existsSync(log) ? readFileSync(log, 'utf8').slice(-1500) : stderrTail(String(start.stderr ?? ''));
    if (!/could not bind|address already in use/i.test(lastError)) break;
  }
  throw new ToolError('cluster_start', 'could not start the throwaway PostgreSQL cluster', { stderrTail: lastError, hint: 'check the settings passed to the cluster; the server log tail is in the error details (--verbose)' });
}

/** The running cluster: its superuser connection, and stop(), also registered for the process exit hook. */
function clusterHandle(c: { runner: ClusterRunner; pgCtl: string; base: string; dataDir: string; port: number; major: number; password?: string; tls?: ClusterTls; cleanupBase: () => void }): ThrowawayCluster {
  const entry = { pgCtl: c.pgCtl, dataDir: c.dataDir, base: c.base, asPostgres: c.runner.asPostgres };
  live.add(entry);
  installExitHook();
  const connection: ConnectionSettings = {
    host: '127.0.0.1', port: c.port, user: 'postgres', database: 'postgres', sslMode: 'disable', applicationName: 'axisor-db',
    connectTimeoutSeconds: 10, pgbouncer: false, redactedUrl: redactedUrl({ host: '127.0.0.1', port: c.port, user: 'postgres', database: 'postgres' }),
  };
  if (c.password !== undefined) Object.defineProperty(connection, 'password', { value: c.password, enumerable: false });
  Object.freeze(connection);
  let stopped = false;
  return {
    host: '127.0.0.1',
    port: c.port,
    dataDir: c.dataDir,
    major: c.major,
    connection,
    url: `postgres://postgres@127.0.0.1:${c.port}/postgres`,
    ...(c.tls ? { tls: c.tls } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      await c.runner.run(c.pgCtl, ['-D', c.dataDir, '-m', 'immediate', '-w', 'stop']);
      live.delete(entry);
      c.cleanupBase();
    },
  };
}
