import { quoteIdent, quoteLiteral } from './ident.ts';

/**
 * A row's key as one jsonb object, {"column": value, ...}, for the key columns of the row under `alias`
 * (validate's samples, fix's quarantine). Column names go through quoteIdent as identifiers and quoteLiteral as
 * the object's keys; `alias` is the caller's own table alias, never user input.
 */
export function rowKeyJson(columns: readonly string[], alias: string): string {
  return `jsonb_build_object(${columns.map((c) => `${quoteLiteral(c)}, ${alias}.${quoteIdent(c)}`).join(', ')})`;
}
