import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../config/resolve.ts';
import type { AxisorConfig, ConnectionSettings } from '../config/types.ts';
import { secretUrl } from '../config/url.ts';
import { withClient, withDatabase } from '../db/index.ts';
import { AxisorError, ExitCode, toAxisorError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import type { ServiceContext } from '../service.ts';
import { chooseTarget, createDemoDatabase, dropDemoDatabase, markDemoDatabase, type DemoTarget } from './target.ts';
import { runSteps, type DemoStep } from './steps.ts';
import { dropSlotsOf } from './sql.ts';

export interface DemoOptions {
  ephemeral: boolean;
  demoDb: string;
  users: number;
  tradesPerUser: number;
  /** Keep the demo databases, backups and cluster for exploring (cleanup is then the user's). */
  keep: boolean;
  toolVersion: string;
  /** Each finished step, as it finishes (the command prints it at once). */
  onStep?: (step: DemoStep) => void;
}

/**
 * The demo makes its own databases, so it has a config only when the user named a server (DATABASE_URL /
 * --database-url): then its connection is the server the demo uses.
 */
export type DemoContext = Omit<ServiceContext, 'config'> & { config?: AxisorConfig };

export interface DemoResult {
  target: { kind: DemoTarget['kind']; reason: string; server: string; serverVersion: string; walLevel: string; clusterDataDir: string | null };
  databases: { demo: string; restored: string };
  backupDir: string;
  steps: DemoStep[];
  ok: boolean;
  cleanup: { databasesDropped: string[]; slotsDropped: number; backupDirRemoved: boolean; clusterStopped: boolean; kept: boolean };
  durationMs: number;
}

/** 0 when every step passed (a skipped step is not a failure), else 2; a step that threw is the command's error. */
export function exitCodeFor(result: Pick<DemoResult, 'ok'>): number {
  return result.ok ? ExitCode.OK : ExitCode.CHECK_FAILED;
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
export async function runDemo(o: DemoOptions, ctx: DemoContext): Promise<DemoResult> {
  const started = Date.now();
  const root = packageRoot();
  const target = await chooseTarget({ explicit: ctx.config?.connection, ephemeral: o.ephemeral, env: ctx.env, onProgress: ctx.onProgress });
  const backupDir = mkdtempSync(join(tmpdir(), 'axisor-demo-backups-'));
  const restoredDb = `${o.demoDb}_restored`;
  const cleanup: DemoResult['cleanup'] = { databasesDropped: [], slotsDropped: 0, backupDirRemoved: false, clusterStopped: false, kept: o.keep };
  const steps: DemoStep[] = [];
  let failure: AxisorError | undefined;
  try {
    const demoConn = await createDemoDatabase(target.server, o.demoDb);
    const config = configFor(demoConn, backupDir, root);
    await runSteps({
      config, root, target, restoredDb, users: o.users, tradesPerUser: o.tradesPerUser, env: ctx.env, toolVersion: o.toolVersion,
      signal: ctx.signal, onProgress: ctx.onProgress,
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
