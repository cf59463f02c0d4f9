import { Command, CommanderError } from 'commander';
import { EXIT_CODE_DOCS, ExitCode, UsageError, toAxisorError } from '../errors.ts';
import { createOutput, runState } from './action.ts';
import type { CliContext } from './context.ts';
import { addConnectionOptions, addOutputOptions } from './options.ts';
import { COMMANDS } from './registry.ts';
import { VERSION } from '../version.ts';

export function exitCodeHelp(): string {
  return `\nExit codes:\n${EXIT_CODE_DOCS.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`).join('\n')}\n`;
}

function buildProgram(ctx: CliContext): Command {
  const program = new Command('axisor-db')
    .description('Operations CLI for the Axisor PostgreSQL database')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride()
    // Options belong to the command they follow: without this the program (and a command with subcommands)
    // would consume `--json` etc. written after a subcommand, and `migrate status --json` would not see it.
    .enablePositionalOptions()
    .addHelpText('after', `${exitCodeHelp()}\nConfiguration: flags > DATABASE_URL > PG* variables > axisor-db.config.json > defaults.\nRun 'axisor-db <command> --help' for a command's options.\n`);
  return program;
}

/** Runs the CLI and returns the exit code. Only bin/ turns it into the process's. */
export async function main(argv: readonly string[], ctx: CliContext): Promise<number> {
  runState.exitCode = 0;
  const program = buildProgram(ctx);
  const userArgs = argv.slice(2);
  const wanted = userArgs.find((a) => !a.startsWith('-'));
  const entry = COMMANDS.find((c) => c.name === wanted);
  for (const c of COMMANDS) {
    const cmd = program.command(c.name).summary(c.summary).description(c.summary);
    if (c !== entry) continue;
    // Only the invoked command's module is imported (fast --help); it declares its own options.
    const mod = await c.load();
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
      if (userArgs.includes('--json')) createOutput({ json: true }, ctx).document(wanted ?? '', usage.exitCode, { error: usage.toJSON() });
      return ExitCode.USAGE;
    }
    const e = toAxisorError(err);
    createOutput({ json: userArgs.includes('--json'), verbose: userArgs.includes('--verbose') }, ctx).error(wanted ?? '', e);
    return e.exitCode;
  }
}

function applyToTree(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd);
  for (const sub of cmd.commands) applyToTree(sub, fn);
}
