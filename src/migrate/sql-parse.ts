import { parse } from 'libpg-query';

/** One top-level statement of a migration file, located in the file. */
export interface ParsedStatement {
  /** The statement's AST node: `{ IndexStmt: {...} }`, `{ AlterTableStmt: {...} }`, ... (libpg_query's JSON). */
  node: Record<string, any>;
  /** The node's type name, e.g. 'IndexStmt'. */
  kind: string;
  /** Statement text, without the trailing semicolon. */
  text: string;
  /** 1-based line of the statement's first token (comments before it skipped). */
  line: number;
  /** Comment lines directly before the statement (after the previous one), for ignore markers. */
  leadingComments: string[];
}

export class SqlParseError extends Error {
  /** 1-based line of the error, when the parser gave a position. */
  readonly line?: number;
  constructor(message: string, line?: number) {
    super(message);
    this.line = line;
  }
}

/**
 * Splits and parses a script with PostgreSQL's own parser (libpg_query, compiled to WASM). Locations from
 * libpg_query are byte offsets into the UTF-8 text, so slicing is done on the bytes.
 */
export async function parseStatements(sql: string): Promise<ParsedStatement[]> {
  let tree: { stmts?: Array<{ stmt: Record<string, any>; stmt_location?: number; stmt_len?: number }> };
  try {
    tree = (await parse(sql)) as unknown as typeof tree;
  } catch (err) {
    const e = err as Error & { cursorPosition?: number; sqlDetails?: { cursorPosition?: number } };
    // libpg_query reports a 0-based byte offset.
    const pos = e.sqlDetails?.cursorPosition ?? e.cursorPosition;
    const bytes = Buffer.from(sql, 'utf8');
    throw new SqlParseError(e.message, typeof pos === 'number' ? lineOfByte(bytes, Math.max(0, pos)) : undefined);
  }
  const bytes = Buffer.from(sql, 'utf8');
  const out: ParsedStatement[] = [];
  let prevEnd = 0;
  for (const s of tree.stmts ?? []) {
    const loc = s.stmt_location ?? 0;
    const end = s.stmt_len ? loc + s.stmt_len : bytes.length;
    // Some libpg_query versions start a statement right after the previous ';' (comments included): skip them.
    const start = skipSpaceAndComments(bytes, Math.max(loc, prevEnd));
    const kind = Object.keys(s.stmt)[0] ?? 'Unknown';
    const between = bytes.subarray(prevEnd, start).toString('utf8');
    out.push({
      node: s.stmt,
      kind,
      text: bytes.subarray(start, end).toString('utf8').trim(),
      line: lineOfByte(bytes, start),
      leadingComments: commentLines(between),
    });
    prevEnd = end;
  }
  return out;
}

/** Does the script contain CREATE INDEX CONCURRENTLY (or another statement that cannot run in a transaction)? */
export function needsNoTransaction(stmts: ParsedStatement[]): boolean {
  return stmts.some((s) => nonTransactional(s));
}

/** Statements PostgreSQL refuses inside a transaction block. */
export function nonTransactional(s: ParsedStatement): boolean {
  const n = s.node[s.kind];
  switch (s.kind) {
    case 'IndexStmt':
      return Boolean(n?.concurrent);
    case 'DropStmt':
      return Boolean(n?.concurrent);
    case 'ReindexStmt':
      return (n?.params ?? []).some((p: any) => p?.DefElem?.defname === 'concurrently');
    case 'AlterTableStmt':
      return (n?.cmds ?? []).some((c: any) => c?.AlterTableCmd?.subtype === 'AT_DetachPartition' && c?.AlterTableCmd?.def?.PartitionCmd?.concurrent);
    case 'VacuumStmt':
      return Boolean(n?.is_vacuumcmd);
    case 'CreatedbStmt':
    case 'DropdbStmt':
    case 'CreateTableSpaceStmt':
    case 'DropTableSpaceStmt':
      return true;
    case 'AlterSystemStmt':
      return true;
    default:
      return false;
  }
}

function lineOfByte(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

function skipSpaceAndComments(b: Buffer, i: number): number {
  for (;;) {
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x3b)) i++;
    if (b[i] === 0x2d && b[i + 1] === 0x2d) {
      while (i < b.length && b[i] !== 0x0a) i++;
      continue;
    }
    if (b[i] === 0x2f && b[i + 1] === 0x2a) {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      while (i < b.length) {
        if (b[i] === 0x2f && b[i + 1] === 0x2a) {
          depth++;
          i += 2;
        } else if (b[i] === 0x2a && b[i + 1] === 0x2f) {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
      continue;
    }
    return i;
  }
}

function commentLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('--')).map((l) => l.replace(/^--\s?/, ''));
}
