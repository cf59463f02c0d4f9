import type { Command } from 'commander';
import { resolveConfig } from '../config/resolve.ts';
import type { AxisorConfig, ConfigFlags } from '../config/types.ts';
import { DatabaseError, ExitCode, UsageError, toAxisorError } from '../errors.ts';
import { toPrivilegeError } from '../db/privilege.ts';
import { Output } from '../render/output.ts';
import type { CliContext } from './context.ts';
import { runState } from './state.ts';
import { suggest } from './suggest.ts';
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

export { runState };

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
export interface ActionOptions {
  /**
   * The command connects to the configured database (default). Off for commands that only read files (backup list,
   * show, prune): they get neither the "no connection settings" warning nor the closing database line.
   */
  connects?: boolean;
  /**
   * A successful human run ends with one stderr line naming the database (database, server, user), so nobody
   * migrates or validates the wrong one unawares. Default: `connects`. Off for commands that work on databases of
   * their own (demo, restore: their own output names them).
   */
  namesDatabase?: boolean;
}

export function defineAction<O>(cmd: Command, ctx: CliContext, handler: (input: ActionInput<O>) => Promise<CommandOutcome<any>>, options: ActionOptions = {}): void {
  cmd.action(async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    const opts = command.opts() as O & OutputFlags & ConfigFlags;
    const args = command.args;
    const out = createOutput(opts, ctx);
    const name = commandPath(command);
    let cached: AxisorConfig | undefined;
    const config = () => {
      if (cached) return cached;
      cached = resolveConfig({ flags: opts, env: ctx.env, cwd: ctx.cwd, osUser: ctx.osUser });
      if (options.connects !== false) for (const note of cached.notes ?? []) out.warn(note);
      return cached;
    };
    try {
      // A command with subcommands and no arguments of its own (backup, migrate) allows excess arguments only so
      // that a mistyped subcommand gets a useful message here instead of "too many arguments".
      if (command.commands.length > 0 && command.registeredArguments.length === 0 && args.length > 0) {
        const subs = command.commands.map((c) => c.name());
        const guess = suggest(args[0]!, subs);
        throw new UsageError(`unknown subcommand '${args[0]}' for '${name}'${guess ? ` (did you mean ${guess}?)` : ''}`, {
          code: 'unknown_command',
          hint: guess ? `axisor-db ${name} ${guess}` : `one of: ${subs.join(', ')} (axisor-db ${name} --help)`,
        });
      }
      const outcome = await handler({ opts, args, ctx, out, config });
      const exitCode = outcome.exitCode ?? ExitCode.OK;
      if (out.json) out.document(name, exitCode, { result: outcome.result });
      else if (outcome.render) outcome.render(outcome.result, out);
      if (cached && (options.namesDatabase ?? options.connects ?? true)) out.info(out.c.dim(describeTarget(cached)));
      runState.exitCode = exitCode;
    } catch (err) {
      const e = toAxisorError(privilegeOrSelf(err, cached));
      out.error(name, e);
      runState.exitCode = e.exitCode;
    }
  });
}

/** `database "axisor" at 127.0.0.1:5432 as postgres` (a socket directory is shown as such). */
export function describeTarget(config: AxisorConfig): string {
  const c = config.connection;
  const where = c.host.startsWith('/') ? `socket ${c.host}/.s.PGSQL.${c.port}` : `${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}`;
  return `database "${c.database}" at ${where} as ${c.user}`;
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
