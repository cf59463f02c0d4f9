import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './db.ts';

export const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'prisma', 'migrations');

/** The committed migrations, in name order (Prisma's order). */
export function migrationFiles(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((d) => statSync(join(dir, d)).isDirectory())
    .sort()
    .map((d) => join(dir, d, 'migration.sql'));
}

/** Applies prisma/migrations/*\/migration.sql with pg, each as one multi-statement query (as Prisma does). */
export async function applyMigrations(url: string, dir = MIGRATIONS_DIR): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const f of migrationFiles(dir)) await c.query(readFileSync(f, 'utf8'));
  } finally {
    await c.end();
  }
}

/** A fresh database for one test file with the migrations applied. */
export async function createMigratedDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  try {
    await applyMigrations(db.url);
  } catch (err) {
    await db.drop();
    throw err;
  }
  return db;
}
