import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/pgtools/index.ts';
import { ROOT, cliEnv } from '../helpers/cli.ts';
import { ADMIN_URL, createTestDatabase, query, type TestDatabase } from '../helpers/db.ts';

// The CLI as a user installs it: `npm pack` (dist/ is built by `npm test`; --ignore-scripts so this test does not
// rebuild the dist/ other tests run), `npm install -g` of the tarball into a temporary prefix, and every command run
// from `/`, as cron and systemd do. Then the README's cron and systemd blocks, line by line, exactly as written.

let work: string;
let prefix: string;
let bin: string;
const SYSTEM_PATH = '/usr/bin:/bin';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'axisor-install-'));
  prefix = join(work, 'prefix');
  const pack = await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], { cwd: ROOT });
  const tarball = join(work, JSON.parse(pack.stdout)[0].filename);
  // --prefer-offline: the dependencies come from npm's cache when they are there (the checkout's install filled it).
  await execa('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work });
  bin = join(prefix, 'bin', 'axisor-db');
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs a command line through sh from `/` with only the given environment (like cron does). */
function sh(line: string, env: Record<string, string>) {
  return execa('sh', ['-c', line], { cwd: '/', env, extendEnv: false, reject: false });
}

describe('installed from its npm pack tarball', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('install');
  });
  afterAll(async () => db?.drop());

  test('the package ships dist/, the migrations and the Prisma schema, and no sources or tests', () => {
    const pkg = join(prefix, 'lib', 'node_modules', 'axisor-db');
    expect(existsSync(join(pkg, 'dist', 'src', 'main.js'))).toBe(true);
    expect(existsSync(join(pkg, 'dist', 'src', 'generated', 'prisma', 'client.js'))).toBe(true);
    expect(existsSync(join(pkg, 'prisma', 'schema.prisma'))).toBe(true);
    expect(readdirSync(join(pkg, 'prisma', 'migrations')).length).toBeGreaterThan(0);
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    expect(existsSync(join(pkg, 'test'))).toBe(false);
    expect(existsSync(join(pkg, 'node_modules', 'typescript'))).toBe(false); // no dev dependencies
  });

  test('migrate, validate and backup work from / with the package\'s own migrations and schema', async () => {
    const backups = join(work, 'bk-direct');
    const env = { ...cliEnv(), PATH: `${join(prefix, 'bin')}:${SYSTEM_PATH}`, DATABASE_URL: db.url } as Record<string, string>;
    const migrate = await sh('axisor-db migrate --json', env);
    expect(migrate.stderr).toBe('');
    expect(migrate.exitCode).toBe(0);
    const pkg = join(prefix, 'lib', 'node_modules', 'axisor-db');
    const m = JSON.parse(migrate.stdout).result;
    expect(m.migrationsDir).toBe(join(pkg, 'prisma', 'migrations'));
    expect(m.schemaMigrations.applied.length).toBeGreaterThan(0);
    const validate = await sh('axisor-db validate --json', env);
    expect(validate.exitCode).toBe(0);
    const v = JSON.parse(validate.stdout).result;
    expect(v.checks.length).toBeGreaterThan(0);
    expect(v.prismaSchema).toBe(join(pkg, 'prisma', 'schema.prisma')); // found from the package, not from /
    const backup = await sh(`axisor-db backup --no-chain --quiet --backup-dir ${backups}`, env);
    expect(backup.stderr).toBe('');
    expect(backup.exitCode).toBe(0);
    expect(readdirSync(backups).filter((n) => /-full-/.test(n))).toHaveLength(1);
    const [{ n }] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL');
    expect(n).toBeGreaterThan(0);
  });
});

/** The fenced blocks of one language in README.md. */
function readmeBlocks(lang: string): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

interface CronJob { user?: string; command: string }
/** A crontab: `NAME=value` lines, jobs (5 time fields, a user field in /etc/cron.d files, the command). */
function parseCron(block: string): { env: Record<string, string>; jobs: CronJob[] } {
  const system = /^#\s*\/etc\/cron\.d\//.test(block);
  const env: Record<string, string> = {};
  const jobs: CronJob[] = [];
  for (const line of block.split('\n')) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const assign = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (assign) {
      env[assign[1]!] = assign[2]!;
      continue;
    }
    const fields = line.trim().split(/\s+/);
    expect(fields.slice(0, 5).every((f) => /^[\d*,/-]+$/.test(f))).toBe(true);
    const user = system ? fields[5] : undefined;
    const command = line.trim().replace(new RegExp(`^(\\S+\\s+){${system ? 6 : 5}}`), '');
    expect(command).not.toContain('%'); // cron turns % into a newline
    jobs.push({ user, command });
  }
  return { env, jobs };
}

describe('README cron and systemd blocks, exactly as written', () => {
  let cluster: ThrowawayCluster;
  beforeAll(async () => {
    // A server whose build restricts output plugins (output_plugin_libraries) must allow wal2json for incrementals.
    const [opl] = await query(ADMIN_URL, `SELECT 1 AS x FROM pg_settings WHERE name = 'output_plugin_libraries'`);
    cluster = await startThrowawayCluster({
      env: process.env, settings: { wal_level: 'logical', ...(opl ? { output_plugin_libraries: 'pgoutput, test_decoding, wal2json' } : {}) },
    });
    await query(cluster.url, 'CREATE DATABASE axisor');
    const setup = await execa(bin, ['migrate', '--quiet', '--database-url', cluster.url.replace(/\/postgres$/, '/axisor')], { cwd: '/', env: cliEnv(), extendEnv: false, reject: false });
    expect(setup.exitCode).toBe(0);
  }, 120_000);
  afterAll(async () => cluster?.stop());

  function testKeyFile(): string {
    const file = join(work, 'backup.key');
    if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    return file;
  }

  /** The block's variables, with the server and directories pointed at this test's (PATH: the installed bin first). */
  function jobEnv(blockEnv: Record<string, string>, backupDir: string): Record<string, string> {
    expect(blockEnv.PATH?.split(':')).toContain('/usr/local/bin'); // where `npm install -g` puts axisor-db
    return {
      ...blockEnv, HOME: work, NO_COLOR: '1',
      PATH: `${join(prefix, 'bin')}:${SYSTEM_PATH}`,
      AXISOR_BACKUP_DIR: backupDir, PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: 'postgres', PGDATABASE: 'axisor',
      // The off-site block: its key and metrics file, made here (the bucket is replaced by the directory above).
      ...(blockEnv.AXISOR_BACKUP_KEY_FILE ? { AXISOR_BACKUP_KEY_FILE: testKeyFile() } : {}),
      ...(blockEnv.AXISOR_METRICS_FILE ? { AXISOR_METRICS_FILE: join(work, 'axisor_backup.prom') } : {}),
    };
  }

  test.each(readmeBlocks('cron').map((b, i) => [i, b]))('cron block %i: every line exits 0 and works in AXISOR_BACKUP_DIR', async (i, block) => {
    const { env, jobs } = parseCron(block as string);
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['PATH', 'AXISOR_BACKUP_DIR']));
    const dir = join(work, `cron-${i}`);
    const hadBackupsInRoot = existsSync('/backups');
    for (const job of jobs) {
      if (job.user !== undefined) expect(job.user).toMatch(/^[a-z_][a-z0-9_-]*$/); // a user name, nothing else
      const r = await sh(job.command, jobEnv(env, dir));
      expect({ command: job.command, exitCode: r.exitCode, stderr: r.stderr }).toEqual({ command: job.command, exitCode: 0, stderr: '' });
      expect(r.stdout).toBe(''); // --quiet: cron mails only failures
    }
    const made = readdirSync(dir).filter((n) => !n.startsWith('.'));
    expect(made.some((n) => /-full-/.test(n))).toBe(true);
    expect(made.some((n) => /-incr-/.test(n))).toBe(true);
    if (env.AXISOR_BACKUP_KEY_FILE) expect(JSON.parse(readFileSync(join(dir, made.find((n) => /-incr-/.test(n))!, 'manifest.json'), 'utf8')).encryption.keyFingerprint).toMatch(/^[0-9a-f]{16}$/);
    if (env.AXISOR_METRICS_FILE) expect(readFileSync(join(work, 'axisor_backup.prom'), 'utf8')).toMatch(/axisor_backup_last_success_timestamp_seconds\{database="axisor",type="incremental"\} \d+[\s\S]*# EOF\n$/);
    expect(existsSync('/backups')).toBe(hadBackupsInRoot); // nothing went to ./backups of the working directory
  });

  test('systemd service: ExecStart and ExecStartPost with its Environment=, from /', async () => {
    const [unit] = readmeBlocks('ini');
    const lines = unit!.split('\n');
    const env: Record<string, string> = {};
    for (const l of lines.filter((x) => x.startsWith('Environment='))) {
      for (const pair of l.slice('Environment='.length).trim().split(/\s+/)) {
        const eq = pair.indexOf('=');
        env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    }
    expect(env.AXISOR_BACKUP_DIR).toBeDefined();
    const dir = join(work, 'systemd');
    const execs = lines.filter((l) => /^ExecStart(Post)?=/.test(l)).map((l) => l.replace(/^ExecStart(Post)?=/, '').trim().split(/\s+/));
    expect(execs).toHaveLength(2);
    for (const [path, ...args] of execs) {
      expect(path).toBe('/usr/local/bin/axisor-db'); // systemd needs the absolute path npm install -g gives
      const r = await execa(join(prefix, 'bin', 'axisor-db'), args, { cwd: '/', env: { ...jobEnv({ PATH: '/usr/local/bin' }, dir), ...{ AXISOR_BACKUP_DIR: dir } }, extendEnv: false, reject: false });
      expect({ args, exitCode: r.exitCode, stderr: r.stderr }).toEqual({ args, exitCode: 0, stderr: '' });
    }
    expect(readdirSync(dir).some((n) => /-full-/.test(n))).toBe(true);
  });
});
