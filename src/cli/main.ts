import type { Command } from 'commander';
import { ExitCode, UsageError, toAxisorError } from '../errors.ts';
import { runState } from './state.ts';
import type { CliContext } from './context.ts';
import { PROGRAM_DESCRIPTION, PROGRAM_HELP_AFTER, exitCodeHelp, topLevelHelp } from './help.ts';
import { COMMANDS } from './registry.ts';
import { VERSION } from '../version.ts';

export { exitCodeHelp };

/** The width commander wraps help at: the terminal's, or 80 when stdout is not a terminal. */
function helpWidth(ctx: CliContext): number | undefined {
  return ctx.isTTY ? (ctx.stdout as { columns?: number }).columns : undefined;
}

/** The program with every command's name and summary (commands get their options when invoked). */
export async function buildProgram(ctx: CliContext): Promise<Command> {
  const { Command } = await import('commander');
  const program = new Command('axisor-db')
    .description(PROGRAM_DESCRIPTION)
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      getOutHelpWidth: () => helpWidth(ctx) ?? 80,
    })
    .exitOverride()
    // Options belong to the command they follow: without this the program (and a command with subcommands)
    // would consume `--json` etc. written after a subcommand, and `migrate status --json` would not see it.
    .enablePositionalOptions()
    .addHelpText('after', PROGRAM_HELP_AFTER);
  for (const c of COMMANDS) program.command(c.name).summary(c.summary).description(c.summary);
  return program;
}

/** Runs the CLI and returns the exit code. Only bin/ turns it into the process's. */
export async function main(argv: readonly string[], ctx: CliContext): Promise<number> {
  runState.exitCode = 0;
  const userArgs = argv.slice(2);
  // The fast paths: nothing but this module, the registry and the exit-code table are loaded.
  if (userArgs.length === 1 && (userArgs[0] === '--help' || userArgs[0] === '-h')) {
    ctx.stdout.write(topLevelHelp(helpWidth(ctx)));
    return ExitCode.OK;
  }
  if (userArgs.length === 1 && (userArgs[0] === '--version' || userArgs[0] === '-V')) {
    ctx.stdout.write(`${VERSION}\n`);
    return ExitCode.OK;
  }
  const { CommanderError } = await import('commander');
  const { addConnectionOptions, addOutputOptions } = await import('./options.ts');
  const program = await buildProgram(ctx);
  const wanted = userArgs.find((a) => !a.startsWith('-'));
  const entry = COMMANDS.find((c) => c.name === wanted);
  if (entry) {
    const cmd = program.commands.find((c) => c.name() === entry.name)!;
    // Only the invoked command's module is imported (fast --help); it declares its own options.
    const mod = await entry.load();
    addConnectionOptions(cmd);
    addOutputOptions(cmd);
    mod.configure(cmd, ctx);
    applyToTree(cmd, (sub) => {
      if (sub.commands.length) sub.enablePositionalOptions().allowExcessArguments(true);
      sub.exitOverride().configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) })
        .showHelpAfterError('(run with --help for usage)');
      if (!sub.helpInformation().includes('Exit codes:')) sub.addHelpText('after', exitCodeHelp());
    });
  }
  try {
    await program.parseAsync(argv as string[]);
    return runState.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.OK;
      // commander has already printed its one-line message; in --json mode stdout still gets a document.
      const usage = new UsageError(err.message.replace(/^error: /, ''), { hint: `run axisor-db ${wanted ?? ''} --help`.replace(/\s+/g, ' ').trim() });
      if (userArgs.includes('--json')) (await import('./action.ts')).createOutput({ json: true }, ctx).document(wanted ?? '', usage.exitCode, { error: usage.toJSON() });
      return ExitCode.USAGE;
    }
    const e = toAxisorError(err);
    (await import('./action.ts')).createOutput({ json: userArgs.includes('--json'), verbose: userArgs.includes('--verbose') }, ctx).error(wanted ?? '', e);
    return e.exitCode;
  }
}

function applyToTree(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd);
  for (const sub of cmd.commands) applyToTree(sub, fn);
}
