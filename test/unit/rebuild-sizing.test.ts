import { expect, test } from '@jest/globals';
import { maintenanceWorkMemMb } from '../../src/seed/bulk-load.ts';

const GB = 1024 ** 3;

test('maintenance_work_mem for rebuilds: an eighth of memory per concurrent build, between 64 MB and 1 GB', () => {
  expect(maintenanceWorkMemMb(2, 24 * GB)).toBe(1024);
  expect(maintenanceWorkMemMb(1, 4 * GB)).toBe(512);
  expect(maintenanceWorkMemMb(2, 4 * GB)).toBe(256);
  expect(maintenanceWorkMemMb(4, 1 * GB)).toBe(64);
  expect(maintenanceWorkMemMb(0, 2 * GB)).toBe(256);
});

test('foreign keys: one group per table (its keys would queue on the table lock anyway), biggest table first', async () => {
  const { scheduleForeignKeys } = await import('../../src/restore/foreign-keys.ts');
  const fk = (table: string, constraint: string) => ({ table, constraint, sql: `ALTER TABLE ${table} ADD CONSTRAINT ${constraint} ...;` });
  const fks = [fk('public.A', 'a1'), fk('public.T', 't1'), fk('public.B', 'b1'), fk('public.T', 't2'), fk('public.A', 'a2')];
  const groups = scheduleForeignKeys(fks, new Map([['public.T', 5_000_000], ['public.A', 1000], ['public.B', 10]]));
  expect(groups.map((g) => g.map((f) => f.constraint))).toEqual([['t1', 't2'], ['a1', 'a2'], ['b1']]);
  // Unknown sizes sort by name, deterministically.
  expect(scheduleForeignKeys([fk('public.Y', 'y'), fk('public.X', 'x')], new Map()).map((g) => g[0]!.constraint)).toEqual(['x', 'y']);
});
