import type { Command } from 'commander';
import { withClient } from '../db/connect.ts';
import { NotImplementedError } from '../errors.ts';
import { defineAction } from './action.ts';
import type { CliContext } from './context.ts';

/**
 * For a command whose issue is not done: it resolves the configuration and connects (so configuration and
 * connection errors are already the real ones), then says plainly that it is not implemented.
 */
export function configureNotImplemented(cmd: Command, ctx: CliContext, issue: string): void {
  cmd.allowExcessArguments(true).allowUnknownOption(false);
  defineAction(cmd, ctx, async ({ config }) => {
    await withClient(config(), async (c) => {
      await c.query('SELECT 1');
    });
    throw new NotImplementedError(cmd.name(), issue);
  });
}
