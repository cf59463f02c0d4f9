import { PassThrough } from 'node:stream';
import { expect, test } from '@jest/globals';
import { buildProgram } from '../../src/cli/main.ts';
import { topLevelHelp } from '../../src/cli/help.ts';
import type { CliContext } from '../../src/cli/context.ts';

function ctx(columns: number | undefined): CliContext {
  const stdout = Object.assign(new PassThrough(), { columns });
  return { env: {}, cwd: '/', stdout, stderr: new PassThrough(), isTTY: columns !== undefined, signal: new AbortController().signal };
}

// `axisor-db --help` is printed without commander (start-up time); it must stay exactly what commander prints.
test.each([undefined, 80, 120, 60, 0])('the fast top-level help equals commander\'s at width %p', async (columns) => {
  const program = await buildProgram(ctx(columns));
  let commanderText = '';
  program.configureOutput({ writeOut: (s) => { commanderText += s; } });
  program.outputHelp();
  expect(topLevelHelp(columns)).toBe(commanderText);
});

test('backup --compress offers exactly the codecs the backup service knows', async () => {
  const { COMPRESSION_CHOICES } = await import('../../commands/backup.ts');
  const { COMPRESSIONS } = await import('../../src/archive/compress.ts');
  expect([...COMPRESSION_CHOICES]).toEqual([...COMPRESSIONS]);
});
