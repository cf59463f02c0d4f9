import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import { ROOT } from './cli.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export const REAL_MIGRATIONS = join(ROOT, 'prisma/migrations');
export const FIXTURES = join(ROOT, 'test/fixtures/migrations');

export interface MigrationsDir {
  dir: string;
  /** Copies the folders of test/fixtures/migrations/<set> into the directory (a "new migration" arrives). */
  add(set: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A scratch migrations directory: the real prisma/migrations (init) plus the given fixture sets. */
export async function scratchMigrations(...sets: string[]): Promise<MigrationsDir> {
  const dir = await mkdtemp(join(tmpdir(), 'axisor-migrations-'));
  await cp(REAL_MIGRATIONS, dir, { recursive: true });
  const add = (set: string) => cp(join(FIXTURES, set), dir, { recursive: true });
  for (const s of sets) await add(s);
  return { dir, add, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A scratch database and migrations directory per call (`prefix` names the database, `sets` are fixture sets), all
 * dropped and removed after the test file. Call it at a test file's top level: it registers the afterAll.
 */
export function migrationSandboxes(): (prefix: string, ...sets: string[]) => Promise<{ db: TestDatabase; m: MigrationsDir }> {
  const dbs: TestDatabase[] = [];
  const dirs: MigrationsDir[] = [];
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
    await Promise.all(dirs.map((d) => d.cleanup()));
  });
  return async (prefix, ...sets) => {
    const db = await createTestDatabase(prefix);
    dbs.push(db);
    const m = await scratchMigrations(...sets);
    dirs.push(m);
    return { db, m };
  };
}
