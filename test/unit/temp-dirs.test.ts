import { expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanStaleTemps, tempDirName } from '../../src/archive/catalog.ts';

test('a backup temporary directory carries its writer in its name: a killed run\'s is removed at once, even before it wrote owner.json; a live run\'s stays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'axisor-tempdirs-'));
  try {
    const live = tempDirName('20261130T000000Z-full-aaaa');
    // The same name with a pid that cannot exist (pid_max is at most 2^22): the writer is gone.
    const dead = live.replace(/^\.tmp-\d+-/, '.tmp-99999999-').replace('aaaa', 'bbbb');
    mkdirSync(join(dir, live));
    mkdirSync(join(dir, dead));
    expect(await cleanStaleTemps(dir)).toEqual([dead]);
    expect(readdirSync(dir)).toEqual([live]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
