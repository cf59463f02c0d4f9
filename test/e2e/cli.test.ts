import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { ExitCode } from '../../src/errors.ts';
import { ADMIN_URL, urlWithDatabase } from '../helpers/db.ts';
import { runCli } from '../helpers/cli.ts';
import type { BackupResult, DebugPoolResult, ValidateReport } from '../helpers/results.ts';

const COMMANDS = ['migrate', 'backup', 'restore', 'validate', 'fix', 'optimize', 'debug-pool', 'debug-perf', 'seed', 'demo'];

test('--help lists the ten commands and the exit codes', async () => {
  const r = await runCli(['--help']);
  expect(r.exitCode).toBe(0);
  for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  for (const code of Object.values(ExitCode)) expect(r.stdout).toMatch(new RegExp(`^\\s+${code}\\s`, 'm'));
});

test.each(COMMANDS)('%s --help shows options and exit codes', async (c) => {
  const r = await runCli([c, '--help']);
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toContain('--json');
  expect(r.stdout).toContain('--database-url');
  expect(r.stdout).toContain('Exit codes:');
});

describe('a password never appears in any output', () => {
  const url = 'postgres://u:s3cret@127.0.0.1:1/x';
  test.each([[[]], [['--json']], [['--verbose']], [['--json', '--verbose']]])('debug-pool %j', async (extra) => {
    const r = await runCli<DebugPoolResult>(['debug-pool', '--database-url', url, ...extra]);
    expect(r.exitCode).toBe(ExitCode.CONNECTION);
    expect(r.stdout + r.stderr).not.toContain('s3cret');
    expect(r.stderr).toContain('127.0.0.1:1');
    if (!extra.includes('--verbose')) expect(r.stderr.trim().split('\n')).toHaveLength(1);
    if (extra.includes('--json')) {
      expect(r.json).toMatchObject({ version: 1, ok: false, exitCode: ExitCode.CONNECTION, error: { code: 'connection.refused' } });
    }
  });
  test('DATABASE_URL from the environment is redacted as well', async () => {
    const r = await runCli<DebugPoolResult>(['debug-pool', '--verbose'], { env: { DATABASE_URL: url } });
    expect(r.exitCode).toBe(ExitCode.CONNECTION);
    expect(r.stdout + r.stderr).not.toContain('s3cret');
  });
});

describe('bad input gets a distinct, documented exit code naming the fix', () => {
  test('unknown flag -> usage', async () => {
    const r = await runCli<BackupResult>(['backup', '--no-such-flag']);
    expect(r.exitCode).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('--no-such-flag');
  });
  test('unknown flag with --json still yields a JSON document', async () => {
    const r = await runCli<ValidateReport>(['validate', '--json', '--frobnicate']);
    expect(r.exitCode).toBe(ExitCode.USAGE);
    expect(r.json).toMatchObject({ ok: false, error: { code: 'usage' } });
  });
  test('malformed --database-url -> usage (a bad flag value), naming --database-url', async () => {
    const r = await runCli<DebugPoolResult>(['debug-pool', '--database-url', 'postgres://u:pw@host:notaport/db']);
    expect(r.exitCode).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('--database-url');
    expect(r.stderr).not.toContain(':pw@');
  });
  test('malformed DATABASE_URL -> config, naming DATABASE_URL', async () => {
    const r = await runCli<DebugPoolResult>(['debug-pool'], { env: { DATABASE_URL: 'mysql://x@y/z' } });
    expect(r.exitCode).toBe(ExitCode.CONFIG);
    expect(r.stderr).toContain('DATABASE_URL');
  });
  test('missing database -> not found, naming the database', async () => {
    const r = await runCli<DebugPoolResult>(['debug-pool', '--database-url', urlWithDatabase(ADMIN_URL, 'axisor_test_missing_db'), '--json']);
    expect(r.exitCode).toBe(ExitCode.NOT_FOUND);
    expect(r.json.error.code).toBe('not_found.database');
    expect(r.json.error.message).toContain('axisor_test_missing_db');
  });
});

describe('issue 15: one exit code per mistake, hints that name the fix', () => {
  test.each([
    [['backup', '--jobs', '0'], '--jobs'],
    [['seed', '--users', 'ten'], '--users'],
    [['validate', '--jobs', 'x'], '--jobs'],
    [['debug-pool', '--port', 'abc'], '--port'],
    [['debug-pool', '--statement-timeout', 'soon'], '--statement-timeout'],
    [['debug-pool', '--database-url', 'postgres://u@h:99999/db'], '--database-url'],
    [['backup', 'prune', '--keep-last', '-1'], '--keep-last'],
    [['demo', '--users', '0'], '--users'],
    [['optimize', '--min-improvement', '100'], '--min-improvement'],
    [['debug-perf', '--slow-ms', 'soon'], '--slow-ms'],
    [['restore', '--latest', '--target-db', 'axisor_test_never', '--jobs', '0'], '--jobs'],
    [['backup', 'verify', '--latest', '--backup-dir', '/nonexistent/axisor', '--jobs', '0'], '--jobs'], // before looking for backups (was 66)
    [['migrate', '--batch-size', 'x'], '--batch-size'],
    [['fix', '--lock-timeout', 'soon'], '--lock-timeout'],
  ])('%j -> 64 with a hint naming %s (not circular), and a JSON document with --json', async (args, flag) => {
    const r = await runCli(args.includes('--database-url') ? args : [...args, '--database-url', 'postgres://postgres@127.0.0.1:1/x']);
    expect(r.exitCode).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain(flag);
    expect(r.stderr).not.toMatch(/fix: fix --[a-z-]+\)/); // "fix --jobs" alone says nothing
    const j = await runCli([...args, '--json']);
    expect(j.exitCode).toBe(ExitCode.USAGE);
    expect(j.json).toMatchObject({ ok: false, exitCode: ExitCode.USAGE });
  });
  test('a mistyped subcommand gets "did you mean"', async () => {
    const r = await runCli<BackupResult>(['backup', 'lst']);
    expect(r.exitCode).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(/did you mean list\?/);
    const m = await runCli(['migrate', 'stauts', '--json']);
    expect(m.exitCode).toBe(ExitCode.USAGE);
    expect(m.json.error.message).toMatch(/did you mean status\?/);
  });
  test('--host, --port, --dbname and --user are in every --help', async () => {
    const r = await runCli<ValidateReport>(['validate', '--help']);
    for (const f of ['--host', '--port', '--dbname', '--user']) expect(r.stdout).toContain(f);
  });
  test('a config file with "port": "notanumber" -> 78 with a message, and a JSON document with --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'axisor-cfg-e2e-'));
    try {
      writeFileSync(join(dir, 'axisor-db.config.json'), JSON.stringify({ host: '127.0.0.1', port: 'notanumber' }));
      const r = await runCli<DebugPoolResult>(['debug-pool'], { cwd: dir });
      expect(r.exitCode).toBe(ExitCode.CONFIG);
      expect(r.stderr).toMatch(/port must be a number/);
      const j = await runCli<DebugPoolResult>(['debug-pool', '--json'], { cwd: dir });
      expect(j.exitCode).toBe(ExitCode.CONFIG);
      expect(j.json).toMatchObject({ ok: false, error: { code: 'config.file_value' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('issue 15: passwords in URLs', () => {
  const PW = 'Secr3tPassw0rd';
  test.each(['#1', '/1', '?1'])('a password ending in %j is never shown, from DATABASE_URL, --database-url or the config file', async (tail) => {
    const url = `postgres://ops:${PW}${tail}@127.0.0.1:notaport/db`;
    const dir = mkdtempSync(join(tmpdir(), 'axisor-pw-e2e-'));
    try {
      writeFileSync(join(dir, 'axisor-db.config.json'), JSON.stringify({ databaseUrl: url }));
      for (const r of [
        await runCli(['debug-pool', '--json'], { env: { DATABASE_URL: url } }),
        await runCli(['debug-pool', '--json', '--database-url', url]),
        await runCli(['debug-pool', '--json', '--verbose'], { cwd: dir }),
      ]) {
        expect([ExitCode.CONFIG, ExitCode.USAGE]).toContain(r.exitCode);
        expect(r.stdout + r.stderr).not.toContain(PW);
        expect(r.json.ok).toBe(false);
      }
      // parsed the libpq way, the same password gets as far as the server (here: nothing listens on port 1)
      const ok = await runCli(['debug-pool'], { env: { DATABASE_URL: `postgres://ops:${PW}${tail}@127.0.0.1:1/db` } });
      expect(ok.exitCode).toBe(ExitCode.CONNECTION);
      expect(ok.stdout + ok.stderr).not.toContain(PW);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('issue 15: which database', () => {
  test('human output names the database it worked on; no settings at all -> libpq defaults with a note', async () => {
    const u = new URL(ADMIN_URL);
    const r = await runCli<DebugPoolResult>(['debug-pool', '--database-url', ADMIN_URL]);
    expect(r.exitCode).toBeLessThan(64);
    expect(r.stderr).toContain(`database "${decodeURIComponent(u.pathname.slice(1)) || 'postgres'}" at ${u.hostname}:${u.port || 5432} as ${decodeURIComponent(u.username) || 'postgres'}`);
    const none = await runCli(['debug-pool'], { env: { PGCONNECT_TIMEOUT: undefined } });
    expect(none.stderr).toMatch(/no connection settings given .*using libpq's defaults as psql would: database "\S+" at localhost:5432 as \S+/);
  });
});
