import { qualifiedName } from '../../db/ident.ts';

/**
 * Data-migration SQL is written with `{Table}` placeholders so the checksum does not depend on the schema
 * the tool is pointed at; this fills them with quoted, schema-qualified names.
 */
export function qualify(template: string, schema: string): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, table: string) => qualifiedName(schema, table));
}

/**
 * Builds the first-batch and next-batch variants of a keyset statement. `template` contains `/*AFTER*\/`
 * where the `AND <key> > $1` bound goes; the batch size is $1 in the first variant and $2 in the next.
 */
export function keysetVariants(template: string, key: string, schema: string): { first: string; next: string } {
  const q = qualify(template, schema);
  return {
    first: q.replace('/*AFTER*/', '').replace(/\$LIMIT/g, '$1'),
    next: q.replace('/*AFTER*/', `AND ${key} > $1`).replace(/\$LIMIT/g, '$2'),
  };
}
