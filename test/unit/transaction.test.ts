import { describe, expect, test } from '@jest/globals';
import { beginSql } from '../../src/db/transaction.ts';

describe('beginSql: the one place a transaction is opened', () => {
  test.each([
    [{}, 'BEGIN'],
    [{ readOnly: true }, 'BEGIN READ ONLY'],
    [{ isolationLevel: 'repeatable read' as const, readOnly: true }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'],
    [{ isolationLevel: 'serializable' as const, readOnly: true, deferrable: true }, 'BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE'],
    [{ isolationLevel: 'repeatable read' as const, snapshot: '00000003-0000001B-1' }, "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '00000003-0000001B-1'"],
  ])('%j', (opts, sql) => {
    expect(beginSql(opts)).toBe(sql);
  });

  test('the snapshot id is quoted as a literal, so it cannot end the statement', () => {
    expect(beginSql({ isolationLevel: 'repeatable read', snapshot: "x'; DROP TABLE t; --" })).toBe("BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT 'x''; DROP TABLE t; --'");
  });

  test('an imported snapshot without REPEATABLE READ or SERIALIZABLE is a programming error', () => {
    expect(() => beginSql({ snapshot: 'x' })).toThrow(/repeatable read or serializable/);
    expect(() => beginSql({ isolationLevel: 'read committed', snapshot: 'x' })).toThrow(/repeatable read or serializable/);
  });
});
