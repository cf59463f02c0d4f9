import type pg from 'pg';

/**
 * The settings that decide how values are written as text and read back, pinned the way pg_dump pins them.
 * Logical decoding through SQL runs the types' output functions in the decoding session, so the database's and the
 * role's `ALTER … SET` defaults would otherwise shape the captured text (DateStyle 'SQL, DMY' swaps day and month,
 * bytea_output 'escape' and extra_float_digits 0 lose bytes and digits); replay reads the text back under the same
 * settings. Without pinning, test/integration/backup-roundtrip.test.ts fails for DateStyle (day and month swapped),
 * IntervalStyle (signs flipped) and extra_float_digits (digits lost).
 */
export const VALUE_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['TimeZone', 'UTC'],
  ['client_encoding', 'UTF8'],
  ['standard_conforming_strings', 'on'],
];

/** SET (or SET LOCAL inside a transaction that must not leak them) every value setting. */
export async function pinValueSettings(c: pg.Client, local = false): Promise<void> {
  const sql = VALUE_SETTINGS.map(([k, v]) => `SET ${local ? 'LOCAL ' : ''}${k} = '${v}'`).join('; ');
  await c.query(sql);
}
