import { repoAt } from '../archive/repo.ts';
import { MANIFEST_FILE, MANIFEST_SUM_FILE } from '../archive/manifest.ts';
import { MANIFEST_MAC_FILE } from '../archive/encryption.ts';
import { isBackupId } from '../archive/id.ts';
import { sweepAbandoned, unpublishAndDelete } from '../storage/publish.ts';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { listCatalog, requireBackupDir, TMP_PREFIX } from '../archive/catalog.ts';
import { fsyncPath, removeDir } from '../archive/fsx.ts';
import type { Manifest } from '../archive/manifest.ts';
import type { ServiceContext } from '../service.ts';

export interface PruneRules {
  keepLast: number;
  keepDaily: number;
  keepWeekly: number;
  /** Schema-only backups kept per database (they never count for the data rules); null: keep them all. */
  keepSchemaOnly: number | null;
}

export interface PruneDecision {
  id: string;
  database: string;
  type: string;
  finishedAt: string;
  bytes: number;
  keep: boolean;
  /** Every rule that keeps it, or why it goes. */
  reasons: string[];
}

export interface PruneResult {
  dryRun: boolean;
  rules: PruneRules;
  kept: number;
  deleted: number;
  freedBytes: number;
  decisions: PruneDecision[];
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/**
 * Decides what retention keeps, per database: the newest N backups, the newest of each of the last D days and
 * W ISO weeks (UTC), always the newest backup; then every backup a kept incremental needs to be restored
 * (its parents up to the full). Only backups with data (full, incremental) count for these rules: a schema-only
 * backup restores no rows, so it must never be the pick that makes a data backup go. Schema-only backups have
 * their own rule (the newest N; all kept without it). Pure: the caller deletes.
 */
export function planPrune(manifests: Manifest[], rules: PruneRules): PruneDecision[] {
  for (const [k, v] of Object.entries(rules)) if (v !== null && (!Number.isInteger(v) || v < 0)) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number >= 0`);
  const reasons = new Map<string, string[]>(manifests.map((m) => [m.id, []]));
  const byDb = new Map<string, Manifest[]>();
  for (const m of manifests) byDb.set(m.database, [...(byDb.get(m.database) ?? []), m]);
  const byId = new Map(manifests.map((m) => [m.id, m]));
  const newestFirst = (list: Manifest[]) => [...list].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  for (const all of byDb.values()) {
    const schemaOnly = newestFirst(all.filter((m) => m.type === 'schema-only'));
    if (rules.keepSchemaOnly === null) for (const m of schemaOnly) reasons.get(m.id)!.push('schema-only (kept: no --keep-schema-only rule)');
    else schemaOnly.slice(0, rules.keepSchemaOnly).forEach((m, i) => reasons.get(m.id)!.push(`keep-schema-only ${i + 1}/${rules.keepSchemaOnly}`));
    // Newest first by start time: ids carry whole seconds only (see listCatalog).
    const newest = newestFirst(all.filter((m) => m.type !== 'schema-only'));
    newest[0] && reasons.get(newest[0].id)!.push('newest backup');
    newest.slice(0, rules.keepLast).forEach((m, i) => reasons.get(m.id)!.push(`keep-last ${i + 1}/${rules.keepLast}`));
    const bucket = (key: (d: Date) => string, n: number, label: string) => {
      const seen = new Set<string>();
      for (const m of newest) {
        const k = key(new Date(m.finishedAt));
        if (seen.has(k)) continue;
        if (seen.size >= n) break;
        seen.add(k);
        reasons.get(m.id)!.push(`${label} ${k}`);
      }
    };
    bucket((d) => d.toISOString().slice(0, 10), rules.keepDaily, 'keep-daily');
    bucket(isoWeek, rules.keepWeekly, 'keep-weekly');
  }
  // A kept incremental is useless without its chain: keep every ancestor.
  for (const m of manifests) {
    if (reasons.get(m.id)!.length === 0) continue;
    for (let p = m.parent; p; p = byId.get(p)?.parent ?? null) {
      const r = reasons.get(p);
      if (r && !r.includes(`needed by ${m.id}`)) r.push(`needed by ${m.id}`);
    }
  }
  return manifests.map((m) => {
    const r = reasons.get(m.id)!;
    return { id: m.id, database: m.database, type: m.type, finishedAt: m.finishedAt, bytes: m.totals.bytes, keep: r.length > 0, reasons: r.length > 0 ? r : [m.type === 'schema-only' ? 'schema-only, beyond --keep-schema-only' : 'matched no keep rule'] };
  });
}

export interface PruneInput {
  rules: PruneRules;
  /** Decide and report only; delete nothing. */
  dryRun: boolean;
}

/** `axisor-db backup prune`: deletes what no retention rule keeps, in ctx.config.backupDir. */
export async function runPrune({ rules, dryRun }: PruneInput, ctx: ServiceContext): Promise<PruneResult> {
  const backupDir = ctx.config.backupDir;
  await requireBackupDir(backupDir);
  const catalog = await listCatalog(backupDir);
  const decisions = planPrune(catalog.filter((e) => e.manifest).map((e) => e.manifest!), rules);
  const repo = repoAt(backupDir);
  if (!dryRun && repo) {
    // Newest first, each unpublished (manifest deleted) before its files: a crash midway never leaves a listed
    // incremental whose parent is gone, and what it leaves unpublished is swept below or by the next run.
    for (const d of decisions.filter((x) => !x.keep).reverse()) await unpublishAndDelete(repo, d.id, [MANIFEST_FILE, MANIFEST_SUM_FILE, MANIFEST_MAC_FILE]);
    await sweepAbandoned(repo, { isId: isBackupId, manifest: MANIFEST_FILE });
    await repo.cleanupAbandoned({ olderThanMs: 24 * 3_600_000 });
  } else if (!dryRun) {
    for (const d of decisions.filter((x) => !x.keep)) {
      // Rename first: the backup leaves the catalog atomically, then the files go.
      const gone = join(backupDir, `${TMP_PREFIX}deleting-${d.id}`);
      await rename(join(backupDir, d.id), gone);
      await fsyncPath(backupDir);
      await removeDir(gone);
    }
  }
  const del = decisions.filter((d) => !d.keep);
  return { dryRun, rules, kept: decisions.length - del.length, deleted: del.length, freedBytes: del.reduce((s, d) => s + d.bytes, 0), decisions };
}
