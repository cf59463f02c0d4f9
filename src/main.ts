import { userInfo } from 'node:os';
import { main } from './cli/main.ts';
import { killChildren } from './pgtools/child-registry.ts';

// The process edge: the only place that reads process.* and sets the exit code.

// `axisor-db backup list | head`: the reader went away; stop quietly like other Unix tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const controller = new AbortController();
let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    controller.abort(new Error(`received ${sig}`));
    // Children run in their own process groups (src/pgtools/children.ts): stop them so the run can unwind.
    killChildren('SIGTERM');
  });
}
let osUser: string | undefined;
try {
  osUser = userInfo().username;
} catch {
  osUser = undefined;
}
process.exitCode = await main(process.argv, {
  env: process.env,
  cwd: process.cwd(),
  osUser,
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: Boolean(process.stdout.isTTY),
  signal: controller.signal,
});
// An S3 backup location keeps HTTP connections alive: close them so the process ends.
await (await import('./archive/repo.ts')).closeBackupLocations();
