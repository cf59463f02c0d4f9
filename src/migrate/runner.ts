import { ensureSchema } from '../db/schema.ts';
import { mapPrivilege } from '../db/privilege.ts';
import type pg from 'pg';
import { qualifiedName } from '../db/ident.ts';
import { RefusedError } from '../errors.ts';
import type { ServiceContext } from '../service.ts';
import { DATA_TABLE } from './data/history.ts';
import { DATA_MIGRATIONS } from './data/registry.ts';
import { applyDataMigrations, type AppliedDataMigration } from './data/run.ts';
import type { DataMigration } from './data/types.ts';
import { readSchemaMigrations } from './files.ts';
import { ensureHistoryTable, PRISMA_TABLE } from './prisma-history.ts';
import { applySchemaMigration, planExecution, type AppliedSchemaMigration } from './schema-apply.ts';
import { withMigrationLock, withMigrationSession } from './session.ts';
import { readMigrateStatus, type MigrateStatusResult } from './status.ts';

export interface MigrateUpOptions {
  migrationsDir: string;
  dryRun?: boolean;
  allowModified?: boolean;
  /** How long to wait for another run's lock, ms. */
  lockTimeoutMs: number;
  batchSize: number;
  dataMigrations?: readonly DataMigration[];
}

export interface PlannedSchemaMigration {
  name: string;
  checksum: string;
  transactional: boolean;
}

export interface PlannedDataMigration {
  version: number;
  name: string;
  /** Rows it would change now; null when its tables do not exist yet (a pending schema migration creates them). */
  rowsToChange: number | null;
}

export interface MigrateUpResult {
  dryRun: boolean;
  database: string;
  schema: string;
  migrationsDir: string;
  /** Time spent waiting for another run's lock. */
  lockWaitMs: number;
  schemaMigrations: { applied: AppliedSchemaMigration[]; planned: PlannedSchemaMigration[]; alreadyApplied: number };
  dataMigrations: { applied: AppliedDataMigration[]; planned: PlannedDataMigration[]; alreadyApplied: number };
  warnings: string[];
}

/** `migrate status`: schema and data migrations and their state, read in the migration session; exit code exitCodeFor(status). */
export async function migrateStatus(opts: { migrationsDir: string; dataMigrations?: readonly DataMigration[] }, ctx: ServiceContext): Promise<MigrateStatusResult> {
  const { config } = ctx;
  return withMigrationSession(ctx, (client) => readMigrateStatus(client, {
    database: config.connection.redactedUrl, schema: config.schema, migrationsDir: opts.migrationsDir, dataMigrations: opts.dataMigrations ?? DATA_MIGRATIONS,
  }));
}

/** Apply every pending schema migration (prisma/migrations order), then every pending data migration. */
export async function migrateUp(opts: MigrateUpOptions, ctx: ServiceContext): Promise<MigrateUpResult> {
  const { config } = ctx;
  const warnings: string[] = [];
  const warn = (t: string) => {
    warnings.push(t);
    ctx.onWarning?.(t);
  };
  const dataMigrations = opts.dataMigrations ?? DATA_MIGRATIONS;
  const files = await readSchemaMigrations(opts.migrationsDir);
  return withMigrationSession({ config, onWarning: warn }, async (client) => {
    const run = async (holdsLock: boolean, lockWaitMs: number): Promise<MigrateUpResult> => {
      const status = await readMigrateStatus(client, {
        database: config.connection.redactedUrl, schema: config.schema, migrationsDir: opts.migrationsDir, dataMigrations, holdsLock, files,
      });
      await refuseUnsafe(client, config.schema, status, Boolean(opts.allowModified), warn);
      const pending = files.filter((f) => status.schemaMigrations.some((s) => s.name === f.name && s.state === 'pending'));
      const result: MigrateUpResult = {
        dryRun: Boolean(opts.dryRun),
        database: status.database,
        schema: config.schema,
        migrationsDir: opts.migrationsDir,
        lockWaitMs,
        schemaMigrations: { applied: [], planned: [], alreadyApplied: status.summary.applied + status.summary.modified },
        dataMigrations: { applied: [], planned: [], alreadyApplied: status.summary.dataApplied + status.summary.dataModified },
        warnings,
      };
      for (const f of pending) result.schemaMigrations.planned.push({ name: f.name, checksum: f.checksum, transactional: (await planExecution(f)).transactional });
      const dataPending = status.dataMigrations.filter((d) => d.state === 'pending');
      if (opts.dryRun) {
        for (const d of dataPending) {
          const m = dataMigrations.find((x) => x.version === d.version)!;
          result.dataMigrations.planned.push({ version: d.version, name: d.name, rowsToChange: await countIfReady(client, config.schema, m, opts.batchSize) });
        }
        return result;
      }
      if (pending.length) {
        await ensureSchema(client, config.schema, 'the migration schema');
        await mapPrivilege({ role: config.connection.user, schema: config.schema, action: `create the migration history table in schema "${config.schema}"` }, () => ensureHistoryTable(client, config.schema));
      }
      for (const f of pending) {
        ctx.onProgress?.({ phase: 'schema', message: f.name });
        result.schemaMigrations.applied.push(await applySchemaMigration(client, config.schema, f));
      }
      result.dataMigrations.planned = dataPending.map((d) => ({ version: d.version, name: d.name, rowsToChange: null }));
      result.dataMigrations.applied = await applyDataMigrations(client, dataMigrations, dataPending, {
        schema: config.schema, batchSize: opts.batchSize, onProgress: ctx.onProgress, signal: ctx.signal,
      });
      return result;
    };
    // A dry run changes nothing, so it does not queue behind a running migrator.
    if (opts.dryRun) return run(false, 0);
    const waitStart = Date.now();
    return withMigrationLock(client, opts.lockTimeoutMs, () => run(true, Date.now() - waitStart));
  });
}

async function countIfReady(client: pg.Client, schema: string, m: DataMigration, batchSize: number): Promise<number | null> {
  for (const t of m.requiresTables) {
    const { rows } = await client.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [qualifiedName(schema, t)]);
    if (!rows[0]?.r) return null;
  }
  return m.countPending(client, { schema, batchSize });
}

/**
 * The checks Prisma's deploy makes (P3005 non-empty schema without history, P3009 failed migration) plus drift:
 * an applied migration whose file changed stops the run unless --allow-modified.
 */
async function refuseUnsafe(client: pg.Client, schema: string, status: MigrateStatusResult, allowModified: boolean, warn: (t: string) => void): Promise<void> {
  if (status.lockHolder) {
    // Only reachable in a dry run (a real run holds the lock): report, do not refuse.
    warn(`a migration run is in progress (pid ${status.lockHolder.pid}); this plan may be out of date`);
  }
  const failed = status.schemaMigrations.filter((m) => m.state === 'failed');
  if (failed.length) {
    const f = failed[0]!;
    const firstError = (f.logs ?? '').split('\n').find((l) => l.startsWith('ERROR:')) ?? 'no error recorded (the migrator may have been killed)';
    throw new RefusedError('failed_migration', `migration ${f.name} failed (started ${f.startedAt}) and blocks further migrations: ${firstError}`, {
      hint: `undo what it did (if anything) and run \`axisor-db migrate resolve --rolled-back ${f.name}\` to retry it, or \`axisor-db migrate resolve --applied ${f.name}\` if you completed it by hand`,
      details: { failed: failed.map((m) => m.name) },
    });
  }
  const modified = [
    ...status.schemaMigrations.filter((m) => m.state === 'modified').map((m) => m.name),
    ...status.dataMigrations.filter((m) => m.state === 'modified').map((m) => `data ${m.version} ${m.name}`),
  ];
  if (modified.length) {
    if (!allowModified) {
      throw new RefusedError('modified', `applied migration(s) changed since they ran: ${modified.join(', ')}`, {
        hint: 'restore the original file(s) (git checkout), or pass --allow-modified to apply the pending ones anyway',
        details: { modified },
      });
    }
    warn(`continuing with modified applied migration(s) (--allow-modified): ${modified.join(', ')}`);
  }
  for (const m of status.schemaMigrations.filter((s) => s.state === 'missing')) warn(`migration ${m.name} is recorded in the database but has no folder in ${status.migrationsDir}`);
  const lastApplied = status.schemaMigrations.findLastIndex((m) => m.state === 'applied' || m.state === 'modified');
  const firstPending = status.schemaMigrations.findIndex((m) => m.state === 'pending');
  if (firstPending >= 0 && firstPending < lastApplied) {
    warn(`migration ${status.schemaMigrations[firstPending]!.name} sorts before already-applied ones; it will be applied now (out of order)`);
  }
  if (!status.historyTable && status.schemaMigrations.some((m) => m.state === 'pending')) {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r','p','v','m') AND c.relname NOT IN ($2, $3)
          -- objects an extension created (pg_stat_statements' and hypopg's views) are not the user's schema
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`,
      [schema, PRISMA_TABLE, DATA_TABLE],
    );
    if ((rows[0]?.n ?? 0) > 0) {
      const first = status.schemaMigrations[0]!.name;
      throw new RefusedError('schema_not_empty', `schema "${schema}" already has ${rows[0]!.n} table(s) but no ${PRISMA_TABLE} history (Prisma's P3005)`, {
        hint: `if the database already matches the migrations, baseline it: \`axisor-db migrate resolve --applied ${first}\` (for each migration it already contains), then run migrate again`,
      });
    }
  }
}
