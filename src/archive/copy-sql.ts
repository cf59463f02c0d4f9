// The SQL of the data streams: which COPY reads a table (or a page range of it) out, and the session settings every
// COPY in and out runs under, so the backup's and the restore drill's COPY text of the same rows is byte-identical.
import { columnList, qualifiedName } from '../db/ident.ts';
import { valueSettingsSql } from './value-settings.ts';
import type { CopyFormat } from './row-digest.ts';

/** The COPY option list for a format (text is COPY's default, written without options as older backups were). */
function withFormat(format: CopyFormat | undefined, freeze = false): string {
  const opts = [format === 'binary' ? 'FORMAT binary' : '', freeze ? 'FREEZE' : ''].filter(Boolean);
  return opts.length > 0 ? ` WITH (${opts.join(', ')})` : '';
}

/** A table as COPY reads it: its name, its columns and the format its rows are written in (absent: text). */
export interface CopyTable { schema: string; name: string; columns: string[]; copyFormat?: CopyFormat }

/** A split table's stream: pages [fromPage, toPage) by ctid; null on a side: open. */
export interface PageRange { fromPage: number | null; toPage: number | null }

/**
 * COPY … TO STDOUT of a table's columns in manifest order: the whole table, or (a stream of a big table's full
 * backup) the pages [fromPage, toPage) by ctid range. The restore drill reads the whole table back the same way.
 */
export function copyOutSql(t: CopyTable, p: PageRange = { fromPage: null, toPage: null }): string {
  const cols = columnList(t.columns);
  const w = withFormat(t.copyFormat);
  if (p.fromPage === null && p.toPage === null) return `COPY ${qualifiedName(t.schema, t.name)}${listOf(cols)} TO STDOUT${w}`;
  const where = [p.fromPage !== null ? `ctid >= '(${p.fromPage},0)'::tid` : '', p.toPage !== null ? `ctid < '(${p.toPage},0)'::tid` : ''].filter(Boolean).join(' AND ');
  return `COPY (SELECT ${cols} FROM ONLY ${qualifiedName(t.schema, t.name)} WHERE ${where}) TO STDOUT${w}`;
}

/** COPY … FROM STDIN of a data stream into its table, in the stream's format, with FREEZE when the table was emptied in the loading transaction. */
export function copyInSql(table: string, columns: string, format: CopyFormat | undefined, freeze: boolean): string {
  return `COPY ${table}${listOf(columns)} FROM STDIN${withFormat(format, freeze)}`;
}

/** A COPY column list; none for a table without columns (`COPY t () …` is a syntax error; its rows are empty). */
function listOf(columns: string): string {
  return columns === '' ? '' : ` (${columns})`;
}

/** The value settings (src/archive/value-settings.ts), plus: every COPY reads its table from the first page. */
const COPY_EXTRA = [['synchronize_seqscans', 'off']] as const;

/**
 * The SET statement that pins the session settings of every COPY in and out, on a connection of our own: COPY text
 * of the same rows must be byte-identical in the backup and in a restored copy (the drill compares digests), so
 * nothing may depend on the user's defaults.
 */
export function copySessionSql(encoding: string): string {
  return valueSettingsSql({ encoding, extra: COPY_EXTRA });
}
