import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors.ts';

/** One folder of prisma/migrations: `<name>/migration.sql`. */
export interface SchemaMigrationFile {
  name: string;
  path: string;
  /** The file's text, decoded as UTF-8 (what is sent to the server). */
  sql: string;
  /** sha256 of the file bytes exactly as read, lowercase zero-padded hex (what Prisma stores). */
  checksum: string;
}

/** sha256 hex of the bytes, as Prisma's engine computes it (schema-connector checksum.rs). */
export function checksumOf(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Prisma's pre-2.24 format printed each byte with `{:x}`, dropping leading zeros (prisma-engines#1887); rows
 * written then have checksums shorter than 64 chars, and the engine still accepts them.
 */
function legacyChecksumOf(bytes: Buffer | string): string {
  return [...createHash('sha256').update(bytes).digest()].map((b) => b.toString(16)).join('');
}

/**
 * Does a stored checksum match the file? Like Prisma, also accept the script with its line endings converted
 * (LF<->CRLF), so a checkout with git autocrlf is not reported as modified.
 */
export function checksumMatches(stored: string, file: Pick<SchemaMigrationFile, 'sql' | 'checksum'>): boolean {
  if (stored === file.checksum) return true;
  const lf = file.sql.replace(/\r\n/g, '\n');
  const crlf = lf.replace(/\n/g, '\r\n');
  const variants = [file.sql, lf, crlf];
  const fn = stored.length < 64 ? legacyChecksumOf : checksumOf;
  return variants.some((v) => fn(v) === stored);
}

/**
 * Lists `<dir>/<name>/migration.sql` sorted by folder name (byte order, as Prisma does). Folders without a
 * migration.sql and files such as migration_lock.toml are ignored.
 */
export async function readSchemaMigrations(dir: string): Promise<SchemaMigrationFile[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError('migrations_dir', `migrations directory ${dir} does not exist`, {
        hint: 'pass --migrations-dir, set migrationsDir in axisor-db.config.json, or run from the project root',
      });
    }
    throw err;
  }
  const names = entries.filter((n) => !n.startsWith('.')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: SchemaMigrationFile[] = [];
  for (const name of names) {
    const path = join(dir, name, 'migration.sql');
    const isDir = await stat(join(dir, name)).then((s) => s.isDirectory(), () => false);
    if (!isDir) continue;
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    out.push({ name, path, sql: bytes.toString('utf8'), checksum: checksumOf(bytes) });
  }
  return out;
}
