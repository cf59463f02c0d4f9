import type { Command } from 'commander';
import type { CliContext } from '../src/cli/context.ts';
import { configureNotImplemented } from '../src/cli/not-implemented.ts';

export function configure(cmd: Command, ctx: CliContext): void {
  configureNotImplemented(cmd, ctx, 'issue #3');
}
