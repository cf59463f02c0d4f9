/**
 * wal2json (format-version 2) change records: the change files of incrementals written before the capture moved to
 * pgoutput (pgoutput.ts). These helpers read them back for replay; the timestamp helpers serve both formats.
 */
export interface ColumnValue {
  name: string;
  type: string;
  /** Numbers are kept as their exact source text (numeric(20,8) must not pass through a float). */
  value: string | boolean | null;
}

export interface ChangeRecord {
  action: 'B' | 'C' | 'I' | 'U' | 'D' | 'T' | 'M';
  xid?: number | string;
  timestamp?: string;
  lsn?: string;
  nextlsn?: string;
  schema?: string;
  table?: string;
  columns?: ColumnValue[];
  identity?: ColumnValue[];
  prefix?: string;
  content?: string;
  transactional?: boolean;
}

/**
 * JSON.parse, except that every number outside a string becomes a string of its exact digits. wal2json prints
 * numeric values as bare JSON numbers, which JavaScript would round to a double.
 */
export function parseExact(text: string): unknown {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
      continue;
    }
    if (ch === 34) {
      inString = true;
    } else if (ch === 45 || (ch >= 48 && ch <= 57)) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
      out += `${text.slice(last, i)}"${text.slice(i, j)}"`;
      last = j;
      i = j - 1;
    }
  }
  return JSON.parse(out + text.slice(last));
}

export function parseChange(line: string): ChangeRecord {
  return parseExact(line) as ChangeRecord;
}

export interface ChangeHeader {
  action: string;
  /** Only for I/U/D/T: the table, read without parsing the (large) column arrays. */
  schema?: string;
  table?: string;
  /** Only for B/C/M (small lines): the whole record. */
  record?: ChangeRecord;
}

// wal2json format-version 2 writes "action" first and "schema","table" before "columns"/"identity".
const ROW_HEAD = /^\{"action":"([IUDT])"[^]*?,"schema":("(?:[^"\\]|\\.)*"),"table":("(?:[^"\\]|\\.)*")[,}]/;

/**
 * What an incremental needs from each line while capturing (action, table; full record of B/C/M), without
 * JSON-parsing the column values of every row change: that parse was a third of the capture time.
 * Anything in an unexpected shape falls back to the full parse.
 */
export function scanHeader(line: string): ChangeHeader {
  const m = ROW_HEAD.exec(line.length > 4096 ? line.slice(0, 4096) : line);
  if (m) return { action: m[1]!, schema: JSON.parse(m[2]!) as string, table: JSON.parse(m[3]!) as string };
  const record = parseChange(line);
  return { action: record.action, schema: record.schema, table: record.table, record };
}

/** '16/B374D848' -> a comparable bigint. */
export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** '2026-11-26 10:51:22.101018+00' (or ISO 8601) -> microseconds since the epoch, keeping the microseconds. */
export function timestampMicros(ts: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(ts.trim());
  if (!m) {
    const ms = Date.parse(ts);
    if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${ts}`);
    return BigInt(ms) * 1000n;
  }
  let zone = m[4] ?? 'Z';
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${ts}`);
  return BigInt(ms) * 1000n + BigInt((m[3] ?? '').padEnd(6, '0'));
}

/** Microseconds -> ISO 8601 UTC with microseconds. */
export function microsToIso(us: bigint): string {
  const ms = Number(us / 1000n);
  const frac = (us % 1_000_000n).toString().padStart(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}
