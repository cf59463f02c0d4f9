/**
 * axisor-db's own bookkeeping: the fix quarantine (schema axisor_quarantine: fix_runs, rows), the data-migration
 * history and Prisma's migration history. Diagnostics about them are not the user's problem (a quarantine of three
 * rows has no use for an index on its foreign key), and used to make debug-perf and optimize exit 1 forever after
 * one `fix --apply`. Names are literal here (not imported from src/fix, src/migrate) to keep diagnostics standalone.
 */
export const OWN_SCHEMAS: readonly string[] = ['axisor_quarantine'];
export const OWN_TABLES: readonly string[] = ['axisor_data_migrations', '_prisma_migrations'];

export function isOwnTable(schema: string, table: string): boolean {
  return OWN_SCHEMAS.includes(schema) || OWN_TABLES.includes(table);
}

// Objects appear in findings as format('%I.%I') or regclass text, quoted or not: schema.table, "schema"."index",
// schema.table.constraint. A table name alone counts when qualified by any schema.
const OWN_OBJECT = new RegExp(`(^|[\\s(])"?(${OWN_SCHEMAS.join('|')})"?\\.|\\."?(${OWN_TABLES.join('|')})"?(?=[.\\s)]|$)|^"?(${OWN_TABLES.join('|')})"?$`);

/** A finding about one of axisor-db's own objects (by its object, or a table named in the message). */
export function isOwnObjectFinding(f: { check: string; object?: string; message: string }): boolean {
  if (f.check === 'slow_query') return false; // statements are the workload's, whatever tables they touch
  return OWN_OBJECT.test(f.object ?? '') || OWN_OBJECT.test(f.message);
}
