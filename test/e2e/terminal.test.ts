import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { ExitCode } from '../../src/errors.ts';
import { BIN, ROOT, cliEnv, runCli } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/** Runs the built CLI in a real pseudo-terminal of the given width (test/helpers/pty-run.py). */
async function inPty(cols: number, args: string[], env: Record<string, string | undefined>, interruptAfterS = 1, timeoutS = 60) {
  const r = await execa('python3', [`${ROOT}test/helpers/pty-run.py`, String(cols), '24', String(interruptAfterS), String(timeoutS), '--', BIN, ...args], {
    env: cliEnv({ TERM: 'xterm-256color', CI: undefined, ...env }), extendEnv: false, reject: false,
  });
  return JSON.parse(String(r.stdout)) as { exitCode: number | null; signal: number | null; timedOut: boolean; bytes: number; tail: string };
}

describe('spinners in a real terminal', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pty');
    expect((await runCli(['migrate', '--database-url', db.url, '--quiet'])).exitCode).toBe(0);
  });
  afterAll(async () => db?.drop());

  // A pty reporting 0 columns (`script`, `docker exec` without a size) made ora clear Infinity lines: 100% CPU,
  // hundreds of MB of ESC[1A ESC[0K, and Ctrl-C ignored.
  test('a terminal with 0 columns: progress lines, Ctrl-C stops the run (130)', async () => {
    const r = await inPty(0, ['seed', '--users', '200000', '--database-url', db.url], {});
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(ExitCode.ABORTED);
    expect(r.bytes).toBeLessThan(20_000);
    expect(r.tail).not.toContain('\x1b[1A');
    expect(r.tail).toContain('interrupted');
  });

  test('a normal terminal with NO_COLOR: an animated spinner without colour, Ctrl-C stops it', async () => {
    const r = await inPty(100, ['seed', '--users', '200000', '--database-url', db.url], { NO_COLOR: '1' });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(ExitCode.ABORTED);
    expect(r.tail).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/); // the spinner ran
    expect(r.tail).not.toMatch(/\x1b\[(3\d|9\d)m/); // no foreground colour anywhere
  });
});
