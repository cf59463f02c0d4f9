import { createHash } from 'node:crypto';
import type { IndexInfo } from '../diagnostics/indexes.ts';
import type { ResolvedTable } from './candidates.ts';

export const MAX_IDENTIFIER_BYTES = 63;

/**
 * Prisma's default @@index name, `<table>_<col>_<col>_idx` (database names), so a suggestion written to
 * schema.prisma without `map:` names the same index the database has. Names over 63 bytes (PostgreSQL would
 * silently truncate them) get a short hash and then need an explicit `map:`.
 */
export function prismaIndexName(table: string, columns: readonly string[]): string {
  return `${table}_${columns.join('_')}_idx`;
}

export function indexName(table: string, columns: readonly string[]): string {
  const name = prismaIndexName(table, columns);
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  let head = name;
  while (Buffer.byteLength(`${head}_${hash}_idx`) > MAX_IDENTIFIER_BYTES) head = head.slice(0, -1);
  return `${head}_${hash}_idx`;
}

export interface StatementBenefit {
  queryid: string;
  calls: number;
  initialCost: number | null;
  newCost: number | null;
  reduction: number | null;
  /** 'planned': this exact index was proven for the statement; 'prefix': a proven narrower index was folded into this wider one. */
  via: 'planned' | 'prefix';
}

export interface IndexSuggestion {
  schema: string;
  table: string;
  columns: string[];
  name: string;
  /** The statement a human or a migration runs. Identifiers are quoted; there are no values. */
  sql: string;
  method: 'hypopg' | 'heuristic';
  confidence: 'high' | 'low';
  /** Best proven cost reduction over the statements it serves (null for the heuristic). */
  reduction: number | null;
  estimatedBytes: number | null;
  statements: StatementBenefit[];
  writeOverhead: WriteOverhead | null;
}

export interface WriteOverhead {
  /** Inserts + updates + deletes per second since the statistics reset (an average, not a peak). */
  writesPerSecond: number;
  /** Share of updates that were HOT: those skip index maintenance unless they change an indexed column. */
  hotUpdateShare: number | null;
  existingIndexes: number;
  note: string;
}

export function createIndexSql(schema: string, table: string, name: string, columns: readonly string[], quote: (s: string) => string, qualifySchema = true): string {
  const target = qualifySchema ? `${quote(schema)}.${quote(table)}` : quote(table);
  return `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quote(name)} ON ${target} USING btree (${columns.map(quote).join(', ')})`;
}

/** Adds a proven index to the list, merging the same index proven by several statements. */
export function addSuggestion(list: IndexSuggestion[], table: ResolvedTable, columns: string[], benefit: StatementBenefit, extra: Pick<IndexSuggestion, 'method' | 'confidence' | 'estimatedBytes' | 'sql' | 'name'>): void {
  const hit = list.find((s) => s.schema === table.schema && s.table === table.name && s.columns.join('\u0000') === columns.join('\u0000'));
  if (hit) {
    hit.statements.push(benefit);
    if (benefit.reduction !== null && (hit.reduction === null || benefit.reduction > hit.reduction)) hit.reduction = benefit.reduction;
    return;
  }
  list.push({ schema: table.schema, table: table.name, columns, reduction: benefit.reduction, statements: [benefit], writeOverhead: null, ...extra });
}

const isPrefix = (a: readonly string[], b: readonly string[]) => a.length < b.length && a.every((c, i) => b[i] === c);

/** A suggestion whose columns are a prefix of another's on the same table is served by the wider one: one index, not two. */
export function foldPrefixes(list: IndexSuggestion[]): IndexSuggestion[] {
  const out: IndexSuggestion[] = [];
  for (const s of list) {
    const wider = list.find((w) => w !== s && w.schema === s.schema && w.table === s.table && isPrefix(s.columns, w.columns));
    if (wider) wider.statements.push(...s.statements.map((b) => ({ ...b, via: 'prefix' as const })));
    else out.push(s);
  }
  return out;
}

/** An existing valid, non-partial btree that leads with the same columns already serves the suggestion. */
export function coveredByExisting(s: Pick<IndexSuggestion, 'schema' | 'table' | 'columns'>, existing: readonly IndexInfo[]): IndexInfo | undefined {
  return existing.find((i) => i.valid && i.method === 'btree' && i.predicate === null && i.expressions === null && i.schema === s.schema && i.table === s.table
    && s.columns.every((c, k) => i.columns[k] === c));
}
