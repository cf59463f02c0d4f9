import { join } from 'node:path';
import type { AxisorConfig } from '../config/types.ts';
import { withClient } from '../db/index.ts';
import { AxisorError, ExitCode, RefusedError } from '../errors.ts';
import type { ProgressFn } from '../progress.ts';
import { migrateUp } from '../migrate/runner.ts';
import { seedDatabase } from '../seed/index.ts';
import { runBackup } from '../backup/service.ts';
import { runRestore } from '../restore/service.ts';
import { validateDatabase } from '../validate/service.ts';
import { exitCodeFor as validateExitCode } from '../validate/report.ts';
import { fixDatabase, undoFix } from '../fix/service.ts';
import { debugPerf } from '../diagnostics/perf.ts';
import { countBySeverity, exitCodeFor as findingsExitCode } from '../diagnostics/findings.ts';
import { withDatabase } from '../db/connect.ts';
import { changeSomeRows, listUserTables, plantDefects, tableFingerprints } from './sql.ts';
import { dropDemoDatabase, type DemoTarget } from './target.ts';

export type Figures = Record<string, string | number | boolean | null>;

export interface DemoStep {
  step: number;
  name: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  /** The command a user would type to do this step themselves. */
  commands: string[];
  figures: Figures;
  note?: string;
  durationMs: number;
}

export interface StepsInput {
  config: AxisorConfig;
  root: string;
  target: DemoTarget;
  restoredDb: string;
  users: number;
  tradesPerUser: number;
  env: Readonly<Record<string, string | undefined>>;
  toolVersion: string;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  onStep: (s: DemoStep) => void;
  markRestored: () => Promise<void>;
}

/** Runs the demo's steps in order; a failing step records itself and stops the run (the error propagates). */
export async function runSteps(i: StepsInput): Promise<void> {
  const { config } = i;
  const svc = { config, env: i.env, signal: i.signal };
  const url = config.connection.redactedUrl;
  const db = `--database-url ${url}`;
  const bk = `--backup-dir ${config.backupDir}`;
  const schemaFile = join(i.root, 'prisma', 'schema.prisma');
  let n = 0;
  const step = async (name: string, title: string, commands: string[], fn: () => Promise<{ figures: Figures; status?: DemoStep['status']; note?: string }>) => {
    n++;
    const t0 = Date.now();
    try {
      const r = await fn();
      i.onStep({ step: n, name, title, status: r.status ?? 'ok', commands, figures: r.figures, note: r.note, durationMs: Date.now() - t0 });
    } catch (err) {
      i.onStep({ step: n, name, title, status: 'failed', commands, figures: {}, note: (err as Error).message, durationMs: Date.now() - t0 });
      throw err;
    }
  };

  await step('migrate', 'Migrate a fresh demo database', [`axisor-db migrate ${db}`], async () => {
    const r = await migrateUp({ migrationsDir: join(i.root, 'prisma', 'migrations'), lockTimeoutMs: 10_000, batchSize: 1000 }, { ...svc, onProgress: i.onProgress });
    return { figures: { schemaMigrations: r.schemaMigrations.applied.length, dataMigrations: r.dataMigrations.applied.length } };
  });

  await step('seed', 'Seed realistic data (COPY)', [`axisor-db seed ${db} --users ${i.users} --trades-per-user ${i.tradesPerUser} --seed 42`], async () => {
    const r = await seedDatabase({ users: i.users, tradesPerUser: i.tradesPerUser, seed: 42 }, { ...svc, onProgress: i.onProgress });
    return { figures: { users: r.users, trades: r.trades.rows, totalRows: r.totalRows, tradeRowsPerSecond: Math.round(r.trades.copyRowsPerSecond), loadPath: r.loadPath } };
  });

  const backupBase = { compression: 'zstd' as const, jobs: 2, waitSeconds: 0, toolVersion: i.toolVersion };
  const backupCtx = { ...svc, onProgress: i.onProgress };
  let lastBackupId = '';
  await step('backup-full', 'Full backup (streamed, zstd, checksummed)', [`axisor-db backup --type full ${db} ${bk}`, `axisor-db backup list ${bk}`], async () => {
    const r = await runBackup({ ...backupBase, type: 'full', startChain: true }, backupCtx);
    lastBackupId = r.id;
    return {
      figures: { id: r.id, bytes: r.bytes, rawBytes: r.rawBytes, rows: r.rows, tables: r.tables, seconds: +(r.durationMs / 1000).toFixed(2), chainSlot: r.slot },
      note: r.warnings.length ? r.warnings.join('; ') : undefined,
    };
  });

  // What the restore must reproduce: the source right after the last backup of the chain.
  let expected: Record<string, { rows: number; md5: string }> = {};
  const fingerprint = () => withClient(config, async (c) => tableFingerprints(c, config.schema, await listUserTables(c, config.schema)));
  expected = await fingerprint();
  const incremental = i.target.walLevel === 'logical';
  await step('backup-incremental', 'Change rows, then an incremental backup', [`axisor-db backup --type incremental ${db} ${bk}`], async () => {
    const changed = await withClient(config, (c) => changeSomeRows(c, config.schema));
    if (!incremental) {
      // Without logical decoding the restore is compared with the full backup's content (fingerprinted above).
      return {
        status: 'skipped',
        figures: { ...changed },
        note: `the server has wal_level=${i.target.walLevel}; incremental backups need wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart), or run the demo with --ephemeral`,
      };
    }
    let r: Awaited<ReturnType<typeof runBackup>>;
    try {
      r = await runBackup({ ...backupBase, type: 'incremental', startChain: true }, backupCtx);
    } catch (err) {
      // Any missing server prerequisite (a refused or absent wal2json, no REPLICATION, no chain because the full
      // backup could not create its slot...) is a skip with the fix, as on a wal_level=replica server.
      if (err instanceof AxisorError && err.exitCode === ExitCode.PREREQUISITE) {
        return { status: 'skipped', figures: { ...changed, reason: err.code }, note: `${err.message}${err.hint ? ` (fix: ${err.hint})` : ''}; or run the demo with --ephemeral` };
      }
      throw err;
    }
    lastBackupId = r.id;
    expected = await fingerprint();
    return { figures: { ...changed, id: r.id, parent: r.parent, bytes: r.bytes, seconds: +(r.durationMs / 1000).toFixed(2), lsnStart: r.lsn?.start ?? null, lsnEnd: r.lsn?.end ?? null } };
  });

  const validateOpts = { samples: 3, jobs: 1, prismaSchema: { path: schemaFile, required: false } };
  await step('validate-clean', 'Validate the clean data', [`axisor-db validate ${db}`], async () => {
    const report = await validateDatabase(validateOpts, svc);
    return { figures: { exitCode: validateExitCode(report), checks: report.summary.checks, passed: report.summary.passed, errors: report.summary.errors, warnings: report.summary.warnings, ms: report.durationMs } };
  });

  await step('defects', 'Plant defects, validate, fix (dry run, apply), validate, undo', [
    `axisor-db validate ${db}`, `axisor-db fix ${db}`, `axisor-db fix --apply ${db}`, `axisor-db fix --undo <run-id> ${db}`,
  ], async () => {
    const planted = await withClient(config, (c) => plantDefects(c, config.schema));
    const found = await validateDatabase(validateOpts, svc);
    const failing = found.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}=${c.failures}`);
    const dry = await fixDatabase({ apply: false, batchSize: 1000, samples: 3, prismaSchema: validateOpts.prismaSchema }, { config, env: i.env });
    const applied = await fixDatabase({ apply: true, batchSize: 1000, samples: 3, prismaSchema: validateOpts.prismaSchema }, { config, env: i.env });
    const after = await validateDatabase(validateOpts, svc);
    const undone = await undoFix({ runId: applied.runId! }, { config, env: i.env });
    return {
      figures: {
        planted: Object.values(planted).reduce((a, b) => a + b, 0),
        validateExitCode: validateExitCode(found),
        failingChecks: failing.join(', '),
        dryRunWouldChange: dry.totals.deleted + dry.totals.updated,
        appliedDeleted: applied.totals.deleted,
        appliedUpdated: applied.totals.updated,
        runId: applied.runId,
        validateAfterFixExitCode: validateExitCode(after),
        undoRunId: undone.undoRunId,
        undoSteps: undone.steps.length,
      },
    };
  });

  await step('restore', 'Restore the chain into a second database and compare', [`axisor-db restore ${lastBackupId || '<id>'} --target-db ${i.restoredDb} ${db} ${bk}`], async () => {
    if (!(await dropDemoDatabase(i.target.server, i.restoredDb))) {
      const exists = await withClient(i.target.server, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [i.restoredDb])).rowCount);
      if (exists) throw new RefusedError('demo_db_exists', `database "${i.restoredDb}" exists and was not created by the demo`, { hint: 'drop it yourself or choose another --demo-db' });
    }
    const r = await runRestore({
      id: lastBackupId, latest: false, targetDb: i.restoredDb, clean: false, toTime: null, tables: [], jobs: 2, noOwner: false, maintenanceDb: 'postgres',
    }, { ...svc, onProgress: i.onProgress });
    await i.markRestored();
    const restoredConn = withDatabase(config.connection, i.restoredDb);
    const got = await withClient(restoredConn, (c) => tableFingerprints(c, config.schema, Object.keys(expected)));
    const mismatched = Object.keys(expected).filter((t) => got[t]?.md5 !== expected[t]!.md5 || got[t]?.rows !== expected[t]!.rows);
    if (mismatched.length > 0) throw new RefusedError('demo_mismatch', `restored content differs from the source in ${mismatched.join(', ')}`);
    return { figures: { chain: r.chain.join(' → '), tables: Object.keys(expected).length, identicalTables: Object.keys(expected).length - mismatched.length, replayedTransactions: r.replay?.transactions ?? 0, seconds: +(r.durationMs / 1000).toFixed(2) } };
  });

  await step('debug-perf', 'Diagnostics summary', [`axisor-db debug-perf ${db}`], async () => {
    const result = await debugPerf({ slowMs: 20, slowCalls: 100, limit: 10 }, svc);
    const exitCode = findingsExitCode(result);
    const counts = countBySeverity(result.findings);
    return { figures: { exitCode, critical: counts.critical, warning: counts.warning, info: counts.info, tables: result.tables.length, statStatements: result.statStatements.available } };
  });
}
