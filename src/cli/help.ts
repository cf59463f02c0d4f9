import { EXIT_CODE_DOCS } from '../errors.ts';
import { COMMANDS } from './registry.ts';

// `axisor-db --help` is printed without loading commander (or anything else): start-up is most of its cost.
// test/unit/cli-help.test.ts checks that this text is exactly what commander prints for the same program.

export const PROGRAM_DESCRIPTION = 'Operations CLI for the Axisor PostgreSQL database';

export function exitCodeHelp(): string {
  return `\nExit codes:\n${EXIT_CODE_DOCS.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`).join('\n')}\n`;
}

export const PROGRAM_HELP_AFTER = `${exitCodeHelp()}\nConfiguration: flags > DATABASE_URL > PG* variables > axisor-db.config.json > defaults.\nRun 'axisor-db <command> --help' for a command's options.\n`;

/** Top-level help, laid out the way commander 14 does it (items wrapped at `width`, default 80). */
export function topLevelHelp(width: number | undefined): string {
  const options: Array<[string, string]> = [['-V, --version', 'output the version number'], ['-h, --help', 'display help for command']];
  const commands: Array<[string, string]> = [...COMMANDS.map((c): [string, string] => [c.name, c.summary]), ['help [command]', 'display help for command']];
  const termWidth = Math.max(...[...options, ...commands].map(([t]) => t.length));
  const helpWidth = width ?? 80;
  const item = ([term, description]: [string, string]) => {
    const remaining = helpWidth - termWidth - 4;
    const text = remaining < 40 ? description : wrap(description, remaining).replace(/\n/g, `\n${' '.repeat(termWidth + 2)}`);
    return `  ${term.padEnd(termWidth)}  ${text.replace(/\n/g, '\n  ')}`;
  };
  return [
    'Usage: axisor-db [options] [command]', '', PROGRAM_DESCRIPTION, '',
    'Options:', ...options.map(item), '', 'Commands:', ...commands.map(item), '',
  ].join('\n') + PROGRAM_HELP_AFTER + '\n';
}

function wrap(text: string, width: number): string {
  const chunks = text.match(/\s*\S+/g) ?? [''];
  const lines: string[] = [];
  let line = chunks.shift()!;
  for (const chunk of chunks) {
    if (line.length + chunk.length <= width) line += chunk;
    else {
      lines.push(line);
      line = chunk.trimStart();
    }
  }
  lines.push(line);
  return lines.join('\n');
}
