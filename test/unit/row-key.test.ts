import { expect, test } from '@jest/globals';
import { rowKeyJson } from '../../src/db/row-key.ts';
import { keyExpr } from '../../src/validate/checks.ts';

test('rowKeyJson: one jsonb object of the key columns; names quoted as identifiers and as literals', () => {
  expect(rowKeyJson(['id'], 't')).toBe(`jsonb_build_object('id', t."id")`);
  expect(rowKeyJson(['user_id', `it's "odd"`], 'd')).toBe(`jsonb_build_object('user_id', d."user_id", 'it''s "odd"', d."it's ""odd""")`);
  expect(() => rowKeyJson(['a\0b'], 't')).toThrow(/NUL/);
});

test('validate samples a key as ctid without a key, the bare value for one column, a jsonb object for more', () => {
  expect(keyExpr([], 'f')).toBe('f.ctid::text');
  expect(keyExpr(['id'], 'f')).toBe('f."id"');
  expect(keyExpr(['a', 'b'], 'f')).toBe(rowKeyJson(['a', 'b'], 'f'));
});
