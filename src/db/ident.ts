/**
 * The one place identifiers are quoted. Values never go through here: they are query parameters.
 * PostgreSQL identifiers are quoted by doubling embedded double quotes; NUL is impossible in a name.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty SQL identifier');
  if (name.includes('\0')) throw new Error('SQL identifier contains NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/** "schema"."name" */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * A string literal, for the rare text that must be one (e.g. inside a generated migration file).
 * Assumes standard_conforming_strings = on (the default since PostgreSQL 9.1), where backslashes are plain.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('SQL literal contains NUL');
  return `'${value.replace(/'/g, "''")}'`;
}
