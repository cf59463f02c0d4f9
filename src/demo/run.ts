import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../config/resolve.ts';
import type { AxisorConfig, ConnectionSettings } from '../config/types.ts';
import { secretUrl } from '../config/url.ts';
import { withClient, withDatabase } from '../db/index.ts';
import { AxisorError, toAxisorError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import type { ProgressFn } from '../progress.ts';
import { chooseTarget, createDemoDatabase, dropDemoDatabase, markDemoDatabase, type DemoTarget } from './target.ts';
import { runSteps, type DemoStep } from './steps.ts';
import { dropSlotsOf } from './sql.ts';

export interface DemoOptions {
  /** The resolved connection if DATABASE_URL / --database-url was given. */
  explicit?: ConnectionSettings;
  ephemeral: boolean;
  demoDb: string;
  users: number;
  tradesPerUser: number;
  /** Keep the demo databases, backups and cluster for exploring (cleanup is then the user's). */
  keep: boolean;
  env: Readonly<Record<string, string | undefined>>;
  toolVersion: string;
  signal?: AbortSignal;
  onStep?: (step: DemoStep) => void;
  onProgress?: ProgressFn;
}

export interface DemoResult {
  target: { kind: DemoTarget['kind']; reason: string; server: string; serverVersion: string; walLevel: string; clusterDataDir: string | null };
  databases: { demo: string; restored: string };
  backupDir: string;
  steps: DemoStep[];
  ok: boolean;
  cleanup: { databasesDropped: string[]; slotsDropped: number; backupDirRemoved: boolean; clusterStopped: boolean; kept: boolean };
  durationMs: number;
}

/** A config for one demo database, resolved the same way the CLI resolves a user's --database-url. */
function configFor(conn: ConnectionSettings, backupDir: string, cwd: string): AxisorConfig {
  return resolveConfig({ flags: { databaseUrl: secretUrl(conn), sslMode: conn.sslMode, backupDir }, env: {}, cwd });
}

/**
 * `axisor-db demo`: migrate → seed → full backup → changes + incremental → validate → plant defects, validate,
 * fix (dry run, apply, undo) → restore the chain and compare → debug-perf. It only creates and drops its own
 * databases (marked by a comment), its own backup directory and, if it started one, its own cluster.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const root = packageRoot();
  const target = await chooseTarget({ explicit: o.explicit, ephemeral: o.ephemeral, env: o.env, onProgress: (m) => o.onProgress?.({ phase: 'target', message: m }) });
  const backupDir = mkdtempSync(join(tmpdir(), 'axisor-demo-backups-'));
  const restoredDb = `${o.demoDb}_restored`;
  const cleanup: DemoResult['cleanup'] = { databasesDropped: [], slotsDropped: 0, backupDirRemoved: false, clusterStopped: false, kept: o.keep };
  const steps: DemoStep[] = [];
  let failure: AxisorError | undefined;
  try {
    const demoConn = await createDemoDatabase(target.server, o.demoDb);
    const config = configFor(demoConn, backupDir, root);
    await runSteps({
      config, root, target, restoredDb, users: o.users, tradesPerUser: o.tradesPerUser, env: o.env, toolVersion: o.toolVersion,
      signal: o.signal, onProgress: o.onProgress,
      markRestored: () => markDemoDatabase(target.server, restoredDb),
      onStep: (s) => {
        steps.push(s);
        o.onStep?.(s);
      },
    });
  } catch (err) {
    failure = toAxisorError(err);
  } finally {
    if (!o.keep) {
      await withClient(target.server, async (c) => {
        cleanup.slotsDropped = await dropSlotsOf(c, o.demoDb);
      }).catch(() => {});
      for (const db of [restoredDb, o.demoDb]) {
        if (await dropDemoDatabase(target.server, db).catch(() => false)) cleanup.databasesDropped.push(db);
      }
      rmSync(backupDir, { recursive: true, force: true });
      cleanup.backupDirRemoved = true;
      if (target.cluster) {
        await target.cluster.stop();
        cleanup.clusterStopped = true;
      }
    }
  }
  const result: DemoResult = {
    target: { kind: target.kind, reason: target.reason, server: withDatabase(target.server, o.demoDb).redactedUrl, serverVersion: target.serverVersion, walLevel: target.walLevel, clusterDataDir: target.cluster?.dataDir ?? null },
    databases: { demo: o.demoDb, restored: restoredDb },
    backupDir,
    steps,
    ok: failure === undefined && steps.every((s) => s.status !== 'failed'),
    cleanup,
    durationMs: Date.now() - started,
  };
  if (failure) {
    // The error keeps the steps that ran, so --json still shows how far the demo got.
    throw new AxisorError(failure.code, failure.exitCode, `demo stopped: ${failure.message}`, { hint: failure.hint, cause: failure, details: { ...failure.details, demo: result } });
  }
  return result;
}
