import { PrerequisiteError } from '../errors.ts';

/**
 * WHATWG decoder labels (TextDecoder) for PostgreSQL's client-side encodings. LATIN1 is not here: WHATWG's
 * "iso-8859-1" is really windows-1252, so it is decoded byte for byte instead.
 */
const DECODERS: Readonly<Record<string, string>> = {
  LATIN2: 'iso-8859-2', LATIN3: 'iso-8859-3', LATIN4: 'iso-8859-4', LATIN5: 'iso-8859-9', LATIN6: 'iso-8859-10',
  LATIN7: 'iso-8859-13', LATIN8: 'iso-8859-14', LATIN9: 'iso-8859-15', LATIN10: 'iso-8859-16',
  ISO_8859_5: 'iso-8859-5', ISO_8859_6: 'iso-8859-6', ISO_8859_7: 'iso-8859-7', ISO_8859_8: 'iso-8859-8',
  WIN866: 'ibm866', WIN874: 'windows-874', WIN1250: 'windows-1250', WIN1251: 'windows-1251', WIN1252: 'windows-1252',
  WIN1253: 'windows-1253', WIN1254: 'windows-1254', WIN1255: 'windows-1255', WIN1256: 'windows-1256',
  WIN1257: 'windows-1257', WIN1258: 'windows-1258', KOI8R: 'koi8-r', KOI8U: 'koi8-u',
  EUC_JP: 'euc-jp', EUC_KR: 'euc-kr', UHC: 'euc-kr', EUC_CN: 'gbk', GBK: 'gbk', GB18030: 'gb18030', BIG5: 'big5', SJIS: 'shift_jis',
};

/**
 * Text a PostgreSQL program printed in a database's encoding (pg_restore's script of an archive is in the
 * archive's encoding), as a string: ASCII as is, UTF8 and LATIN1 exactly, the others through TextDecoder (fatal:
 * a byte sequence the encoding does not have is an error, never a replacement character in a name we then run).
 */
export function decodeServerText(bytes: Uint8Array, encoding: string): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let ascii = true;
  for (let i = 0; i < buf.length; i++) if (buf[i]! >= 0x80) { ascii = false; break; }
  const enc = encoding.toUpperCase();
  if (ascii || enc === 'SQL_ASCII' || enc === 'UTF8') return buf.toString('utf8');
  if (enc === 'LATIN1') return buf.toString('latin1');
  const label = DECODERS[enc];
  if (!label) {
    throw new PrerequisiteError('encoding_unsupported', `the backup's encoding ${encoding} cannot be read here (names outside ASCII in its schema)`, {
      hint: 'restore into a UTF8 database with pg_restore, or report this encoding',
    });
  }
  return new TextDecoder(label, { fatal: true }).decode(buf);
}
