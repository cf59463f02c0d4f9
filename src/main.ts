import { userInfo } from 'node:os';
import { main } from './cli/main.ts';

// The process edge: the only place that reads process.* and sets the exit code.
const controller = new AbortController();
let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    controller.abort(new Error(`received ${sig}`));
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
