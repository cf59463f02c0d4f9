import { readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { ServiceContext } from '../../service.ts';
import { withClient } from '../../db/connect.ts';
import { NotFoundError } from '../../errors.ts';
import { DATA_MIGRATIONS } from '../data/registry.ts';
import { readSchemaMigrations } from '../files.ts';
import { readMigrateStatus } from '../status.ts';
import { lintSources, type LintSource } from './lint.ts';
import type { LintResult } from './types.ts';

export { lintSources } from './lint.ts';
export { LINT_RULES } from './rules.ts';
export { lintExitCode } from './types.ts';
export type { LintFinding, LintResult } from './types.ts';

/** `migrate lint FILE...`: offline. A directory stands for its migration.sql. */
export async function lintFiles(paths: string[], cwd: string): Promise<LintResult> {
  const sources: LintSource[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const isDir = await stat(abs).then((s) => s.isDirectory(), () => false);
    const file = isDir ? join(abs, 'migration.sql') : abs;
    let sql: string;
    try {
      sql = await readFile(file, 'utf8');
    } catch {
      throw new NotFoundError('file', `cannot read ${file}`, { hint: 'give paths to migration.sql files or migration folders' });
    }
    sources.push({ file: relative(cwd, file) || file, sql });
  }
  return lintSources(sources);
}

/** `migrate lint` with no files: the pending migrations of --migrations-dir, judged against the live catalog. */
export async function lintPending(input: { migrationsDir: string; cwd: string }, ctx: ServiceContext): Promise<LintResult> {
  const { config } = ctx;
  const { migrationsDir, cwd } = input;
  const files = await readSchemaMigrations(migrationsDir);
  return withClient(config, async (client) => {
    const status = await readMigrateStatus(client, { database: config.connection.redactedUrl, schema: config.schema, migrationsDir, dataMigrations: DATA_MIGRATIONS, files });
    const pending = new Set(status.schemaMigrations.filter((m) => m.state === 'pending').map((m) => m.name));
    const { rows } = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`,
      [config.schema],
    );
    return lintSources(
      files.filter((f) => pending.has(f.name)).map((f) => ({ file: relative(cwd, f.path) || f.path, sql: f.sql })),
      { existingTables: new Set(rows.map((r) => r.relname)) },
    );
  }, { applicationName: 'axisor-db migrate lint' });
}
