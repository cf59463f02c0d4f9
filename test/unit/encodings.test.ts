import { describe, expect, test } from '@jest/globals';
import { asciiIdentifiers } from '../../src/db/ident.ts';
import { decodeServerText } from '../../src/pgtools/text-encoding.ts';

describe('asciiIdentifiers: COPY statements that mean the same under any client_encoding', () => {
  test('a quoted name outside ASCII becomes a Unicode escape; ASCII names stay as they are', () => {
    expect(asciiIdentifiers('COPY "public"."café" ("id", "naïve") TO STDOUT')).toBe('COPY "public".U&"caf\\00E9" ("id", U&"na\\00EFve") TO STDOUT');
  });
  test('doubled quotes and backslashes inside the name keep their meaning in the escaped form', () => {
    expect(asciiIdentifiers('TRUNCATE ONLY "a""é\\b"')).toBe('TRUNCATE ONLY U&"a""\\00E9\\\\b"');
  });
  test('characters beyond the BMP use the six-digit form', () => {
    expect(asciiIdentifiers('SELECT 1 FROM "t😀"')).toBe('SELECT 1 FROM U&"t\\+01F600"');
  });
  test('string literals are left alone, including ones that hold quotes or non-ASCII text', () => {
    const sql = `COPY (SELECT "ä" FROM ONLY "t" WHERE ctid >= '(0,0)'::tid AND x = 'it''s "é"') TO STDOUT`;
    expect(asciiIdentifiers(sql)).toBe(`COPY (SELECT U&"\\00E4" FROM ONLY "t" WHERE ctid >= '(0,0)'::tid AND x = 'it''s "é"') TO STDOUT`);
  });
  test('pure ASCII SQL is returned unchanged', () => {
    const sql = 'COPY "public"."TradeLog" ("id", "user_id") FROM STDIN WITH (FREEZE)';
    expect(asciiIdentifiers(sql)).toBe(sql);
  });
});

describe('decodeServerText: a tool\'s output read in the archive\'s encoding', () => {
  test('LATIN1 byte for byte (not windows-1252), UTF8 as UTF-8, ASCII under any encoding', () => {
    expect(decodeServerText(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x80]), 'LATIN1')).toBe('caf\u00e9\u0080');
    expect(decodeServerText(Buffer.from('café', 'utf8'), 'UTF8')).toBe('café');
    expect(decodeServerText(Buffer.from('CREATE INDEX "x"'), 'EUC_TW')).toBe('CREATE INDEX "x"');
  });
  test('the other single-byte and multi-byte encodings through their decoders', () => {
    expect(decodeServerText(Buffer.from([0xcf, 0xf0, 0xe8]), 'WIN1251')).toBe('При');
    expect(decodeServerText(Buffer.from([0xa4, 0xa2]), 'EUC_JP')).toBe('あ');
  });
  test('bytes the encoding does not have fail, instead of becoming replacement characters in a name', () => {
    expect(() => decodeServerText(Buffer.from([0xff, 0xfe]), 'EUC_JP')).toThrow();
    expect(() => decodeServerText(Buffer.from([0xe9]), 'EUC_TW')).toThrow(/EUC_TW/);
  });
});
