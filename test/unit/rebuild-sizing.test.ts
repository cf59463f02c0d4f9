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
