import { afterEach, expect, jest, test } from '@jest/globals';
import { refreshedLock } from '../../src/storage/keys.ts';

afterEach(() => {
  jest.useRealTimers();
});

test('a held lock is refreshed every staleAfterMs / 3 (at least 1 s), survives a failed refresh, and is lost when a refresh says so', async () => {
  jest.useFakeTimers();
  const answers: Array<'lost' | 'fail' | undefined> = [undefined, 'fail', 'lost'];
  let refreshes = 0;
  const lock = refreshedLock('backup', 6000, async () => {
    const a = answers[refreshes++];
    if (a === 'fail') throw new Error('network blip');
    return a;
  }, async () => {});
  expect(lock.held()).toBe(true);
  await jest.advanceTimersByTimeAsync(1999);
  expect(refreshes).toBe(0);
  await jest.advanceTimersByTimeAsync(1);
  expect([refreshes, lock.held()]).toEqual([1, true]);
  await jest.advanceTimersByTimeAsync(2000);
  expect([refreshes, lock.held()]).toEqual([2, true]);
  await jest.advanceTimersByTimeAsync(2000);
  expect([refreshes, lock.held()]).toEqual([3, false]);
  await lock.release();
});

test('release removes once, stops refreshing, and a second release is a bug', async () => {
  jest.useFakeTimers();
  let refreshes = 0;
  let removed = 0;
  const lock = refreshedLock('backup', 100, async () => void refreshes++, async () => void removed++);
  await jest.advanceTimersByTimeAsync(1000);
  expect(refreshes).toBe(1);
  await lock.release();
  expect([removed, lock.held()]).toEqual([1, false]);
  await jest.advanceTimersByTimeAsync(5000);
  expect(refreshes).toBe(1);
  await expect(lock.release()).rejects.toThrow('released twice');
  expect(removed).toBe(1);
});
