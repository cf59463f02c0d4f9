import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { VERSION } from '../../src/version.ts';

test('src/version.ts matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  expect(VERSION).toBe(pkg.version);
});
