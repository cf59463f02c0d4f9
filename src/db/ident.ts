/**
 * The one place identifiers are quoted. Values never go through here: they are query parameters.
 * PostgreSQL identifiers are quoted by doubling embedded double quotes; NUL is impossible in a name.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty SQL identifier');
  if (name.includes('\0')) throw new Error('SQL identifier contains NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The same SQL with every double-quoted identifier that holds a non-ASCII character written as a Unicode escape
 * (`"café"` -> `U&"caf\00E9"`), so the text is pure ASCII and means the same under any client_encoding. For the COPY
 * sessions, which run in the database's own encoding (their text must be byte-identical to the stored rows) while
 * node-postgres and psql still send the statement as UTF-8: a LATIN1 database's table "café" was otherwise not found.
 * PostgreSQL 13+ converts the escapes to the server encoding. String literals ('...') are left as they are.
 */
export function asciiIdentifiers(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length;) {
    const ch = sql[i]!;
    if (ch === "'") {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === "'" && sql[j + 1] !== "'")) j += sql[j] === "'" ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      const body = sql.slice(i + 1, j);
      // eslint-disable-next-line no-control-regex
      out += /[^\x00-\x7f]/.test(body) ? `U&"${[...body].map(unicodeEscape).join('')}"` : `"${body}"`;
      i = j + 1;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

function unicodeEscape(c: string): string {
  const cp = c.codePointAt(0)!;
  if (c === '\\') return '\\\\';
  if (cp < 0x80) return c;
  return cp <= 0xffff ? `\\${cp.toString(16).toUpperCase().padStart(4, '0')}` : `\\+${cp.toString(16).toUpperCase().padStart(6, '0')}`;
}

/** "schema"."name" */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** "a", "b": a column list in SQL order (COPY, INSERT, an index definition), every name quoted. */
export function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

/**
 * A string literal, for the rare text that must be one (e.g. inside a generated migration file).
 * Assumes standard_conforming_strings = on (the default since PostgreSQL 9.1), where backslashes are plain.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('SQL literal contains NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

// Reserved words that cannot be bare identifiers (a subset that plausibly names a role, schema or table).
const RESERVED = new Set(['all', 'analyse', 'analyze', 'and', 'any', 'array', 'as', 'asc', 'both', 'case', 'cast', 'check', 'collate', 'column',
  'constraint', 'create', 'current_role', 'current_user', 'default', 'desc', 'distinct', 'do', 'else', 'end', 'except', 'false', 'for', 'foreign',
  'from', 'grant', 'group', 'having', 'in', 'into', 'leading', 'limit', 'not', 'null', 'offset', 'on', 'only', 'or', 'order', 'primary',
  'references', 'select', 'session_user', 'some', 'table', 'then', 'to', 'true', 'union', 'unique', 'user', 'using', 'when', 'where', 'with',
  'public', 'none']);

/**
 * Quotes only when needed, for SQL shown to people (GRANT hints, the roles script): app_owner stays app_owner,
 * "Ops Team" is quoted. Never use it for SQL the tool runs; that goes through quoteIdent.
 */
export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : quoteIdent(name);
}
