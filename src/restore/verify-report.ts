import type { Manifest, TableEntry } from '../archive/manifest.ts';
import { ROW_DIGEST_ALGORITHM } from '../archive/row-digest.ts';
import type { NotValidForeignKey } from './foreign-keys.ts';

// `backup verify`'s result and the pure pieces of its verdict: what can be compared, each table's check, what was
// proven, and the overall answer. No I/O here; verify.ts runs the checksums and the drill.

export type ContentVerdict = 'identical' | 'differs' | 'not-compared';

export interface TableCheck {
  schema: string;
  name: string;
  expectedRows: number;
  rows: number | null;
  /**
   * identical / differs: the restored rows' order-independent digest against the one recorded at backup time.
   * not-compared: no data to compare (schema-only backup, or a table that is not in the chain's full backup).
   */
  content: ContentVerdict;
  /** true / false for identical / differs, null otherwise (kept for older readers of the JSON). */
  contentMatches: boolean | null;
  ok: boolean;
}

export interface VerifyCompared {
  /** Tables whose restored row count was compared with the manifest (of the chain's last backup). */
  rowCounts: number;
  /** Tables whose content was compared (identical or differs). */
  content: number;
  /** 'rowsum64-v1' (order-independent digest recorded at backup time; for old manifests recomputed from the files) or null. */
  method: string | null;
  /** The backup whose content was compared: the full backup (for a chain: before its incrementals were replayed). */
  contentAsOf: string | null;
  /** One sentence saying what was and was not proven. */
  summary: string;
}

export interface VerifyResult {
  id: string;
  chain: string[];
  ok: boolean;
  checksums: { ok: boolean; files: number; bytes: number; bad: Array<{ backup: string; path: string; problem: string }> };
  drill: {
    ran: boolean; ok: boolean; database: string | null; error: string | null; tables: TableCheck[]; replayedTransactions: number | null; compared: VerifyCompared | null;
    /** Foreign keys the backed-up data violates (created NOT VALID in the drill, as a restore would). */
    notValidForeignKeys: NotValidForeignKey[];
    /** Extensions of the backup the role may not create: left out of the drill, as a restore under it would. */
    skippedExtensions: string[];
  };
  /** Things left out of the drill (extensions the role may not create). */
  warnings: string[];
  durationMs: number;
}

export function summarize(c: Omit<VerifyCompared, 'summary'>, chainLength: number, tables: number, schemaOnly: boolean): string {
  if (schemaOnly) return `schema-only backup: the schema was restored; it holds no rows, so no data was compared`;
  const rows = `row counts of ${c.rowCounts}/${tables} tables${chainLength > 1 ? ` after replaying ${chainLength - 1} incremental backup(s) (each UPDATE/DELETE had to match exactly one row)` : ''}`;
  if (c.method === null || c.content === 0) return `${rows}; content NOT compared${c.method === null ? ' (this backup records no content digest)' : ''}`;
  const how = c.method === ROW_DIGEST_ALGORITHM ? 'order-independent row digest of the COPY rows, recorded at backup time' : 'order-independent row digest of the COPY rows, recomputed from the backup files (older manifest)';
  const asOf = chainLength > 1 ? ` as of the full backup ${c.contentAsOf} (before replay; the incrementals' changes are compared by row counts only)` : '';
  return `${rows}; content of ${c.content}/${tables} tables (${how})${asOf}`;
}

/** What the drill can compare with the backup: a content digest recorded at backup time (or none), and whether there are rows at all. */
export function contentBasis(base: Manifest): { withDigest: boolean; hasData: boolean } {
  return {
    withDigest: base.rowDigestAlgorithm === ROW_DIGEST_ALGORITHM && base.tables.every((t) => t.chunks.every((c) => typeof c.rowDigest === 'string')),
    hasData: base.type !== 'schema-only' && base.tables.some((t) => t.chunks.length > 0),
  };
}

/** A restored table against the manifest: its row count must match, and its content must not differ. */
export function tableCheck(t: Pick<TableEntry, 'schema' | 'name' | 'rows'>, rows: number, content: ContentVerdict): TableCheck {
  const contentMatches = content === 'identical' ? true : content === 'differs' ? false : null;
  return { schema: t.schema, name: t.name, expectedRows: t.rows, rows, content, contentMatches, ok: rows === t.rows && content !== 'differs' };
}

/** What the drill compared (counted from its table checks), and one sentence saying what was and was not proven. */
export function comparedOf(tables: TableCheck[], chain: Manifest[], basis: { withDigest: boolean; hasData: boolean }): VerifyCompared {
  const base = chain[0]!;
  const compared = {
    rowCounts: tables.filter((t) => t.rows !== null).length,
    content: tables.filter((t) => t.content === 'identical' || t.content === 'differs').length,
    method: !basis.hasData ? null : basis.withDigest ? ROW_DIGEST_ALGORITHM : `${ROW_DIGEST_ALGORITHM} (recomputed from the backup files: this manifest predates recorded digests)`,
    contentAsOf: basis.hasData ? base.id : null,
  };
  return { ...compared, summary: summarize(compared, chain.length, chain[chain.length - 1]!.tables.length, base.type === 'schema-only') };
}

/** The result before the drill: the checksums' verdict, and a drill that has not run. */
export function checksumsResult(id: string, chain: string[], checksums: VerifyResult['checksums']): VerifyResult {
  return {
    id, chain, ok: checksums.ok, checksums,
    drill: { ran: false, ok: false, database: null, error: null, tables: [], replayedTransactions: null, compared: null, notValidForeignKeys: [], skippedExtensions: [] }, warnings: [], durationMs: 0,
  };
}

/**
 * The overall verdict. A drill that did not run (not asked for, or skipped because a checksum failed) is ok only when
 * it was not asked for and the checksums passed; once it ran, both the checksums and the drill must pass.
 */
export function settleVerdict(result: VerifyResult, drillAsked: boolean): void {
  if (!result.drill.ran) result.drill.ok = !drillAsked && result.ok;
  else result.ok = result.checksums.ok && result.drill.ok;
}
