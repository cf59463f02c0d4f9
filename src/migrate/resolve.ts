import { ensureSchema } from '../db/schema.ts';
import { withTransaction } from '../db/transaction.ts';
import { NotFoundError, RefusedError } from '../errors.ts';
import type { ServiceContext } from '../service.ts';
import { readSchemaMigrations } from './files.ts';
import { ensureHistoryTable, isApplied, isFailed, markApplied, markRolledBack, readHistory } from './prisma-history.ts';
import { withMigrationLock, withMigrationSession } from './session.ts';

export type ResolveAction = 'applied' | 'rolled-back';

export interface ResolveOptions {
  migrationsDir: string;
  name: string;
  action: ResolveAction;
  lockTimeoutMs: number;
}

export interface ResolveResult {
  name: string;
  action: ResolveAction;
  /** Failed rows marked rolled back (rolled_back_at = now()). */
  rolledBack: string[];
  /** The new row for --applied. */
  appliedId: string | null;
  checksum: string | null;
}

/**
 * Prisma's `migrate resolve`, same rules and same rows:
 *   --applied:     refuses if already applied; failed rows of it are marked rolled back, then a row with
 *                  logs '' and started_at = finished_at is inserted (baselining works the same way).
 *   --rolled-back: only for a failed migration (Prisma's P3012 otherwise); sets rolled_back_at so the next
 *                  `migrate` applies it again.
 */
export async function resolveMigration(opts: ResolveOptions, ctx: ServiceContext): Promise<ResolveResult> {
  const { config } = ctx;
  const { name } = opts;
  const files = await readSchemaMigrations(opts.migrationsDir);
  const file = files.find((f) => f.name === name);
  return withMigrationSession(ctx, (client) =>
    withMigrationLock(client, opts.lockTimeoutMs, async () => {
      const rows = (await readHistory(client, config.schema)).filter((r) => r.migration_name === name);
      const failed = rows.filter(isFailed);
      if (opts.action === 'applied') {
        if (!file) {
          throw new NotFoundError('migration', `no migration named ${name} in ${opts.migrationsDir}`, { hint: 'give the folder name exactly, as `axisor-db migrate status` lists it' });
        }
        if (rows.some(isApplied)) {
          throw new RefusedError('already_applied', `migration ${name} is already recorded as applied`, { hint: 'nothing to resolve; see `axisor-db migrate status`' });
        }
        await ensureSchema(client, config.schema, 'the migration schema');
        await ensureHistoryTable(client, config.schema);
        const id = await withTransaction(client, { mapErrors: false }, async () => {
          for (const r of failed) await markRolledBack(client, config.schema, r.id);
          return markApplied(client, config.schema, name, file.checksum);
        });
        return { name, action: opts.action, rolledBack: failed.map((r) => r.id), appliedId: id, checksum: file.checksum };
      }
      if (failed.length === 0) {
        if (rows.length === 0 && !file) throw new NotFoundError('migration', `no migration named ${name} locally or in the database`, { hint: 'see `axisor-db migrate status`' });
        throw new RefusedError('not_failed', `migration ${name} is not in a failed state, so it cannot be marked rolled back`, {
          hint: 'only a failed migration (migrate status: failed) can be resolved with --rolled-back',
        });
      }
      for (const r of failed) await markRolledBack(client, config.schema, r.id);
      return { name, action: opts.action, rolledBack: failed.map((r) => r.id), appliedId: null, checksum: file?.checksum ?? null };
    }),
  );
}
