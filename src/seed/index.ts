export { seedDatabase } from './service.ts';
export type { SeedInput, SeedResult, SeedTableResult } from './service.ts';
export { resolveSeedOptions, DEFAULT_AS_OF, SEED_DEFAULTS, SEED_LIMITS } from './options.ts';
export type { SeedOptions, SeedSettings, SeedMode } from './options.ts';
export { captureTableDdl, dropTableDdl, restoreTableDdl } from './bulk-load.ts';
export type { SavedObject } from './bulk-load.ts';
export { IdFactory } from './ids.ts';
