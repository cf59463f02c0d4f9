import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkBackupHealth, renderOpenMetrics, toHealthBackup, type HealthInput, type HealthResult, type HealthThresholds, type HealthVerify } from '../backup-health/index.ts';
import { writeFileAtomic } from '../backup-health/write.ts';
import type { AxisorConfig } from '../config/types.ts';
import { listCatalog } from '../archive/catalog.ts';
import { DIR_MODE } from '../archive/fsx.ts';
import { backupStatus } from './status.ts';
import { repoAt } from '../archive/repo.ts';

/** Where `backup verify` leaves its last result for `backup status --check` (the repository's own area, never listed). */
function verifyRecordPath(backupDir: string, database: string): string {
  return join(backupDir, '.axisor', 'verify', `${encodeURIComponent(database)}.json`);
}

/** Persists a verify result (atomically: a reader sees the previous record or this one). */
/** In an S3 location: outside every backup prefix (never an id), so list and sweep ignore it. */
const remoteVerifyKey = (database: string) => `health/verify-${encodeURIComponent(database)}.json`;

export async function recordVerify(backupDir: string, database: string, v: HealthVerify): Promise<void> {
  const repo = repoAt(backupDir);
  if (repo) {
    await repo.put(remoteVerifyKey(database), `${JSON.stringify(v)}\n`);
    return;
  }
  const path = verifyRecordPath(backupDir, database);
  await mkdir(join(backupDir, '.axisor', 'verify'), { recursive: true, mode: DIR_MODE });
  await writeFileAtomic(path, `${JSON.stringify(v)}\n`);
}

export async function readLastVerify(backupDir: string, database: string): Promise<HealthVerify | null> {
  try {
    const repo = repoAt(backupDir);
    const text = repo ? (await repo.getBuffer(remoteVerifyKey(database))).toString('utf8') : await readFile(verifyRecordPath(backupDir, database), 'utf8');
    const v = JSON.parse(text) as HealthVerify;
    return typeof v.id === 'string' && typeof v.finishedAt === 'string' && typeof v.ok === 'boolean' ? v : null;
  } catch {
    return null;
  }
}

export interface HealthReport {
  input: HealthInput;
  result: HealthResult;
}

/** `backup status --check` / `--format openmetrics`: the catalog, the chain's slot and the last verify, judged. */
export async function backupHealth(config: AxisorConfig, thresholds: HealthThresholds, now: Date): Promise<HealthReport> {
  const status = await backupStatus({}, { config, env: {} });
  const catalog = await listCatalog(config.backupDir);
  const mine = catalog.filter((e) => e.manifest?.database === status.database).map((e) => e.manifest!);
  const chainSlot = status.slots.find((s) => s.role === 'chain') ?? null;
  const input: HealthInput = {
    database: status.database,
    backups: mine.map(toHealthBackup),
    damaged: catalog.filter((e) => !e.manifest).length,
    slot: chainSlot ? { name: chainSlot.name, walStatus: chainSlot.walStatus, lagBytes: chainSlot.lagBytes, retainedBytes: chainSlot.retainedBytes } : null,
    chainExpected: status.chain !== null,
    lastVerify: await readLastVerify(config.backupDir, status.database),
  };
  return { input, result: checkBackupHealth(input, thresholds, now) };
}

/** Writes the OpenMetrics text for node_exporter's textfile collector (atomic rename, 0644). */
export async function writeHealthMetrics(report: HealthReport, output: string, now: Date): Promise<void> {
  await writeFileAtomic(output, renderOpenMetrics(report.input, report.result, now));
}
