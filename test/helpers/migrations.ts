import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

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
