import type { Command } from 'commander';
import { resolveConfig } from '../config/resolve.ts';
import type { AxisorConfig, ConfigFlags } from '../config/types.ts';
import { DatabaseError, ExitCode, toAxisorError } from '../errors.ts';
import { toPrivilegeError } from '../db/privilege.ts';
import { Output } from '../render/output.ts';
import type { CliContext } from './context.ts';
import type { OutputFlags } from './options.ts';

export interface CommandOutcome<R = unknown> {
  /** The typed result document: --json prints it, the human view is built from it. */
  result: R;
  /** Defaults to 0. Commands with check semantics return 1 (warnings) / 2 (errors) or a bitmap. */
  exitCode?: number;
  /** Human view. Must only read `result`, so JSON and tables never disagree. */
  render?: (result: R, out: Output) => void;
}

export interface ActionInput<O> {
  opts: O & OutputFlags & ConfigFlags;
  args: string[];
  ctx: CliContext;
  out: Output;
  /** Resolved once per run; throws a ConfigError naming the bad flag/variable. */
  config: () => AxisorConfig;
}

/** Exit code of the last action; read by main(). */
export const runState = { exitCode: 0 };

export function createOutput(flags: OutputFlags, ctx: CliContext): Output {
  return new Output({
    json: Boolean(flags.json),
    quiet: Boolean(flags.quiet),
    verbose: Boolean(flags.verbose),
    color: flags.color !== false && !ctx.env.NO_COLOR,
    isTTY: ctx.isTTY,
    stdout: ctx.stdout,
    stderr: ctx.stderr,
  });
}

/**
 * Wires a handler as the command's action: output flags -> config -> handler -> render or JSON.
 * Errors become one line on stderr (and a JSON error document with --json) and a named exit code.
 */
export function defineAction<O>(cmd: Command, ctx: CliContext, handler: (input: ActionInput<O>) => Promise<CommandOutcome<any>>): void {
  cmd.action(async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    const opts = command.opts() as O & OutputFlags & ConfigFlags;
    const args = command.args;
    const out = createOutput(opts, ctx);
    const name = commandPath(command);
    let cached: AxisorConfig | undefined;
    const config = () => (cached ??= resolveConfig({ flags: opts, env: ctx.env, cwd: ctx.cwd, osUser: ctx.osUser }));
    try {
      const outcome = await handler({ opts, args, ctx, out, config });
      const exitCode = outcome.exitCode ?? ExitCode.OK;
      if (out.json) out.document(name, exitCode, { result: outcome.result });
      else if (outcome.render) outcome.render(outcome.result, out);
      runState.exitCode = exitCode;
    } catch (err) {
      const e = toAxisorError(privilegeOrSelf(err, cached));
      out.error(name, e);
      runState.exitCode = e.exitCode;
    }
  });
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Last line of defence for "never 70 (or 71) for a privilege": a 42501 that a service did not map itself becomes
 * a PrivilegeError naming the configured role and the GRANT.
 */
function privilegeOrSelf(err: unknown, config: AxisorConfig | undefined): unknown {
  if (!config) return err;
  const raw = err instanceof DatabaseError && err.sqlState === '42501' ? err.cause : err;
  if (raw === undefined || (err instanceof Object && 'exitCode' in err && !(err instanceof DatabaseError))) return err;
  return toPrivilegeError(raw, { role: config.connection.user, database: config.connection.database, schema: config.schema }) ?? err;
}
