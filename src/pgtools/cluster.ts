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
  const binDir = initdb.path.replace(/\/initdb$/, '');
  const pgCtl = join(binDir, 'pg_ctl');
  const asPostgres = typeof process.getuid === 'function' && process.getuid() === 0;
  let uid: number | undefined;
  let gid: number | undefined;
  if (asPostgres) {
    const id = await execa('id', ['-u', 'postgres'], { reject: false });
    const g = await execa('id', ['-g', 'postgres'], { reject: false });
    if (id.exitCode !== 0) {
      throw new PrerequisiteError('no_postgres_user', 'running as root, but there is no "postgres" OS user to run initdb and postgres as', {
        hint: 'install the postgresql server package (it creates the user) or run as a non-root user',
      });
    }
    uid = Number(id.stdout.trim());
    gid = Number(g.stdout.trim());
  }
  const run = (bin: string, args: string[]) =>
    execa(asPostgres ? 'runuser' : bin, asPostgres ? ['-u', 'postgres', '--', bin, ...args] : args, { reject: false, env: { LC_ALL: 'C', PATH: env.PATH ?? '/usr/bin:/bin' }, extendEnv: false });

  const base = mkdtempSync(join(tmpdir(), 'axisor-cluster-'));
  if (asPostgres) chownSync(base, uid!, gid!);
  const dataDir = join(base, 'data');
  const cleanupBase = () => rmSync(base, { recursive: true, force: true });

  let tls: ClusterTls | undefined;
  let tlsSettings: Record<string, string | boolean> = {};
  if (opts.tls) {
    opts.onProgress?.({ phase: 'cluster', message: 'certificates' });
    try {
      const ca = await createTestCa(join(base, 'ca'), 'axisor-test-ca');
      const wrong = await createTestCa(join(base, 'wrong-ca'), 'axisor-wrong-ca');
      const server = await ca.issue('localhost', { server: true, ...(asPostgres ? { owner: { uid: uid!, gid: gid! } } : {}) });
      const caCopy = join(base, 'server-ca.crt');
      copyFileSync(ca.caCert, caCopy);
      if (asPostgres) {
        chownSync(join(base, 'ca'), uid!, gid!);
        chownSync(caCopy, uid!, gid!);
      }
      tlsSettings = { ssl: true, ssl_cert_file: server.cert, ssl_key_file: server.key, ssl_ca_file: caCopy };
      tls = { caFile: ca.caCert, wrongCaFile: wrong.caCert, issueClientCert: (cn) => ca.issue(cn) };
    } catch (err) {
      cleanupBase();
      throw err;
    }
  }

  opts.onProgress?.({ phase: 'cluster', message: 'initdb' });
  const password = opts.auth === 'scram' ? opts.superuserPassword ?? `pw-${randomBytes(12).toString('hex')}` : undefined;
  const authArgs = ['-A', 'trust'];
  if (password !== undefined) {
    const pwfile = join(base, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (asPostgres) chownSync(pwfile, uid!, gid!);
    authArgs.splice(0, 2, '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  }
  const init = await run(initdb.path, ['-D', dataDir, '-U', 'postgres', ...authArgs, '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  if (password !== undefined) rmSync(join(base, 'pwfile'), { force: true });
  if (init.exitCode !== 0) {
    cleanupBase();
    throw new ToolError('initdb', `initdb failed (exit ${init.exitCode})`, { stderrTail: stderrTail(init.stderr), hint: 'check that the PostgreSQL server binaries are installed and /tmp is writable' });
  }

  if (opts.hba?.length) {
    const hbaFile = join(dataDir, 'pg_hba.conf');
    writeFileSync(hbaFile, `# axisor-db throwaway cluster\n${opts.hba.join('\n')}\n${readFileSync(hbaFile, 'utf8')}`);
  }

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const settings: Record<string, string | number | boolean> = {
      listen_addresses: '127.0.0.1',
      port,
      unix_socket_directories: base,
      fsync: false, // a throwaway cluster: durability of the server itself does not matter
      synchronous_commit: false,
      full_page_writes: false,
      max_connections: 50,
      shared_buffers: '64MB',
      ...tlsSettings,
      ...opts.settings,
    };
    appendFileSync(join(dataDir, 'postgresql.conf'), `\n# axisor-db throwaway cluster\n${Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`).join('\n')}\n`);
    opts.onProgress?.({ phase: 'cluster', message: 'start' });
    const log = join(base, 'server.log');
    const start = await run(pgCtl, ['-D', dataDir, '-l', log, '-w', '-t', '60', 'start']);
    if (start.exitCode === 0) {
      const entry = { pgCtl, dataDir, base, asPostgres };
      live.add(entry);
      installExitHook();
      const connection: ConnectionSettings = {
        host: '127.0.0.1', port, user: 'postgres', database: 'postgres', sslMode: 'disable', applicationName: 'axisor-db',
        connectTimeoutSeconds: 10, pgbouncer: false, redactedUrl: redactedUrl({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' }),
      };
      if (password !== undefined) Object.defineProperty(connection, 'password', { value: password, enumerable: false });
      Object.freeze(connection);
      let stopped = false;
      return {
        host: '127.0.0.1',
        port,
        dataDir,
        major: initdb.major,
        connection,
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        ...(tls ? { tls } : {}),
        async stop() {
          if (stopped) return;
          stopped = true;
          await run(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
          live.delete(entry);
          cleanupBase();
        },
      };
    }
    lastError = existsSync(log) ? readFileSync(log, 'utf8').slice(-1500) : stderrTail(start.stderr);
    if (!/could not bind|address already in use/i.test(lastError)) break;
  }
  cleanupBase();
  throw new ToolError('cluster_start', 'could not start the throwaway PostgreSQL cluster', { stderrTail: lastError, hint: 'check the settings passed to the cluster; the server log tail is in the error details (--verbose)' });
}
