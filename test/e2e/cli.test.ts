import { describe, expect, test } from '@jest/globals';
import { ExitCode } from '../../src/errors.ts';
import { ADMIN_URL, urlWithDatabase } from '../helpers/db.ts';
import { runCli } from '../helpers/cli.ts';

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
    const r = await runCli(['debug-pool', '--database-url', url, ...extra]);
    expect(r.exitCode).toBe(ExitCode.CONNECTION);
    expect(r.stdout + r.stderr).not.toContain('s3cret');
    expect(r.stderr).toContain('127.0.0.1:1');
    if (!extra.includes('--verbose')) expect(r.stderr.trim().split('\n')).toHaveLength(1);
    if (extra.includes('--json')) {
      expect(r.json).toMatchObject({ version: 1, ok: false, exitCode: ExitCode.CONNECTION, error: { code: 'connection.refused' } });
    }
  });
  test('DATABASE_URL from the environment is redacted as well', async () => {
    const r = await runCli(['debug-pool', '--verbose'], { env: { DATABASE_URL: url } });
    expect(r.exitCode).toBe(ExitCode.CONNECTION);
    expect(r.stdout + r.stderr).not.toContain('s3cret');
  });
});

describe('bad input gets a distinct, documented exit code naming the fix', () => {
  test('unknown flag -> usage', async () => {
    const r = await runCli(['backup', '--no-such-flag']);
    expect(r.exitCode).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain('--no-such-flag');
  });
  test('unknown flag with --json still yields a JSON document', async () => {
    const r = await runCli(['validate', '--json', '--frobnicate']);
    expect(r.exitCode).toBe(ExitCode.USAGE);
    expect(r.json).toMatchObject({ ok: false, error: { code: 'usage' } });
  });
  test('malformed URL -> config, naming --database-url', async () => {
    const r = await runCli(['debug-pool', '--database-url', 'postgres://u:pw@host:notaport/db']);
    expect(r.exitCode).toBe(ExitCode.CONFIG);
    expect(r.stderr).toContain('--database-url');
    expect(r.stderr).not.toContain(':pw@');
  });
  test('malformed DATABASE_URL -> config, naming DATABASE_URL', async () => {
    const r = await runCli(['debug-pool'], { env: { DATABASE_URL: 'mysql://x@y/z' } });
    expect(r.exitCode).toBe(ExitCode.CONFIG);
    expect(r.stderr).toContain('DATABASE_URL');
  });
  test('missing database -> not found, naming the database', async () => {
    const r = await runCli(['debug-pool', '--database-url', urlWithDatabase(ADMIN_URL, 'axisor_test_missing_db'), '--json']);
    expect(r.exitCode).toBe(ExitCode.NOT_FOUND);
    expect(r.json.error.code).toBe('not_found.database');
    expect(r.json.error.message).toContain('axisor_test_missing_db');
  });
});
