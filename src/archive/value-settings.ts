import type pg from 'pg';
import { quoteLiteral } from '../db/ident.ts';

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

/**
 * The value settings for a session, with `client_encoding` replaced when given (COPY of a full backup runs in the
 * database's own encoding) and extra settings appended.
 */
function settingsFor(o: { encoding?: string; extra?: ReadonlyArray<readonly [string, string]> } = {}): Array<readonly [string, string]> {
  return [...VALUE_SETTINGS.map(([k, v]) => [k, k === 'client_encoding' && o.encoding ? o.encoding : v] as const), ...(o.extra ?? [])];
}

/** One statement that SETs (or SET LOCALs, inside a transaction that must not leak them) every value setting. */
export function valueSettingsSql(o: { encoding?: string; local?: boolean; extra?: ReadonlyArray<readonly [string, string]> } = {}): string {
  return settingsFor(o).map(([k, v]) => `SET ${o.local ? 'LOCAL ' : ''}${k} = ${quoteLiteral(v)}`).join('; ');
}


export async function pinValueSettings(c: pg.Client, local = false): Promise<void> {
  await c.query(valueSettingsSql({ local }));
}
