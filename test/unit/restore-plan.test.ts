import { describe, expect, test } from '@jest/globals';
import { timestampMicros } from '../../src/archive/changes.ts';
import { trimChainToTime } from '../../src/restore/service.ts';

const link = (id: string, first: string | null) => ({ id, manifest: { commitTimes: first === null ? null : { first, last: first } } });
const chain = [
  link('full', null),
  link('inc1', '2025-01-26T10:00:00Z'),
  link('inc2', '2025-01-26T11:00:00Z'),
  link('inc3', '2025-01-26T12:00:00Z'),
];
const ids = (c: typeof chain) => c.map((l) => l.id);

describe('trimChainToTime: the incrementals a --to-time needs', () => {
  test('a time between two incrementals keeps the one whose changes may precede it, and drops those that start after', () => {
    expect(ids(trimChainToTime(chain, timestampMicros('2025-01-26T11:30:00Z')))).toEqual(['full', 'inc1', 'inc2']);
  });
  test('a time before the first incremental keeps the full backup alone', () => {
    expect(ids(trimChainToTime(chain, timestampMicros('2025-01-26T09:00:00Z')))).toEqual(['full']);
  });
  test('a time after the last first-commit keeps the whole chain', () => {
    expect(ids(trimChainToTime(chain, timestampMicros('2025-01-27T00:00:00Z')))).toEqual(['full', 'inc1', 'inc2', 'inc3']);
  });
  test('a time equal to an incremental\'s first commit keeps that incremental (the commit at that instant is replayed)', () => {
    expect(ids(trimChainToTime(chain, timestampMicros('2025-01-26T11:00:00Z')))).toEqual(['full', 'inc1', 'inc2']);
  });
  test('an incremental without captured commits never ends the chain early', () => {
    const withEmpty = [chain[0]!, link('empty', null), chain[2]!];
    expect(ids(trimChainToTime(withEmpty, timestampMicros('2025-01-26T12:00:00Z')))).toEqual(['full', 'empty', 'inc2']);
  });
});
