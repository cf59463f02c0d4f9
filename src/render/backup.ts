import { formatBytes, renderKeyValues, renderTable, type Output } from './index.ts';
import type { CatalogEntry } from '../archive/catalog.ts';
import type { Manifest } from '../archive/manifest.ts';
import type { PruneResult } from '../backup/prune.ts';
import type { StatusResult } from '../backup/status.ts';
import type { BackupResult } from '../backup/types.ts';
import type { VerifyResult } from '../restore/verify.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The per-phase profile (--verbose): name and milliseconds (or a count), see docs/performance.md. */
export function renderPhases(phases: Record<string, number> | undefined, out: Output): void {
  if (!out.verbose || !phases || Object.keys(phases).length === 0) return;
  out.print();
  out.print(renderTable(['phase', 'value'], Object.entries(phases).map(([k, v]) => [k.replace(/Ms$/, ''), /Ms$/.test(k) ? secs(v) : String(v)]), { colAligns: ['left', 'right'] }));
}

export function renderBackup(r: BackupResult, out: Output): void {
  for (const w of r.warnings) out.warn(w);
  out.print(renderKeyValues([
    ['backup', r.id], ['type', r.type + (r.promotedBecause ? ` (asked for ${r.requestedType}: ${r.promotedBecause})` : '')], ['database', r.database],
    ['parent', r.parent], ['tables', r.tables], ['rows', r.rows], ['size', `${formatBytes(r.bytes)} (${r.compression}; ${formatBytes(r.rawBytes)} raw)`],
    ['changes', r.changes ? `${r.changes.transactions} transactions: ${r.changes.inserts} inserts, ${r.changes.updates} updates, ${r.changes.deletes} deletes, ${r.changes.truncates} truncates` : null],
    ['lsn', r.lsn ? `${r.lsn.start} .. ${r.lsn.end}` : null], ['slot', r.slot], ['took', secs(r.durationMs)], ['directory', r.dir],
  ]));
  renderPhases(r.phases, out);
}

export interface ListResult {
  backupDir: string;
  backups: Array<{ id: string; type: string | null; database: string | null; parent: string | null; finishedAt: string | null; bytes: number | null; rows: number | null; problem: string | null; keyFingerprint: string | null }>;
}

export function toListResult(backupDir: string, entries: CatalogEntry[]): ListResult {
  return {
    backupDir,
    backups: entries.map((e) => ({
      id: e.id, type: e.manifest?.type ?? null, database: e.manifest?.database ?? null, parent: e.manifest?.parent ?? null,
      finishedAt: e.manifest?.finishedAt ?? null, bytes: e.manifest?.totals.bytes ?? null, rows: e.manifest?.totals.rows ?? null, problem: e.problem,
      keyFingerprint: e.manifest?.encryption?.keyFingerprint ?? null,
    })),
  };
}

export function renderList(r: ListResult, out: Output): void {
  if (r.backups.length === 0) return out.print(`no backups in ${r.backupDir}`);
  out.print(renderTable(['id', 'type', 'database', 'finished (UTC)', 'size', 'rows', 'key', 'parent / problem'], r.backups.map((b) => [
    b.id, b.type ?? out.c.red('DAMAGED'), b.database, b.finishedAt?.replace('T', ' ').slice(0, 19), b.bytes === null ? '' : formatBytes(b.bytes), b.rows, b.keyFingerprint ?? '', b.problem ?? b.parent,
  ])));
}

export function renderShow(m: Manifest, out: Output): void {
  out.print(renderKeyValues([
    ['backup', m.id], ['type', m.type], ['database', m.database], ['parent', m.parent], ['chain', m.chainRoot], ['server', m.server.version],
    ['pg_dump', m.tools.pgDump], ['axisor-db', m.tools.axisorDb], ['started', m.startedAt], ['finished', m.finishedAt], ['took', secs(m.durationMs)],
    ['consistent at', m.consistentAt], ['snapshot', m.snapshot ? `${m.snapshot.name}${m.snapshot.lsn ? ` at ${m.snapshot.lsn}` : ''}` : null],
    ['lsn', m.lsn ? `${m.lsn.start} .. ${m.lsn.end}` : null], ['slot', m.slot?.name], ['compression', m.compression],
    ['encryption', m.encryption ? `${m.encryption.algorithm}, key fingerprint ${m.encryption.keyFingerprint}` : null],
    ['size', `${formatBytes(m.totals.bytes)} in ${m.files.length} files (${formatBytes(m.totals.rawBytes)} raw)`], ['schema fingerprint', m.schemaFingerprint],
  ]));
  out.print();
  out.print(renderTable(['table', 'rows', 'streams'], m.tables.map((t) => [`${t.schema}.${t.name}`, t.rows, t.chunks.length]), { colAligns: ['left', 'right', 'right'] }));
}

export function renderVerify(r: VerifyResult, out: Output): void {
  out.print(renderKeyValues([
    ['backup', r.id], ['chain', r.chain.join(' -> ')],
    ['checksums', r.checksums.ok ? `ok (${r.checksums.files} files, ${formatBytes(r.checksums.bytes)})` : out.c.red(`FAILED: ${r.checksums.bad.map((b) => `${b.backup}/${b.path} ${b.problem}`).join('; ')}`)],
    ['restore drill', !r.drill.ran ? 'not run' : r.drill.ok ? `ok (${r.drill.tables.length} tables)` : out.c.red(`FAILED${r.drill.error ? `: ${r.drill.error}` : ''}`)],
    ['compared', r.drill.compared?.summary ?? null],
    ['foreign keys NOT VALID', r.drill.notValidForeignKeys.length ? r.drill.notValidForeignKeys.map((f) => `${f.table}.${f.constraint}`).join(', ') + ' (the backed-up data violates them; a restore creates them NOT VALID)' : null],
    ['took', secs(r.durationMs)],
  ]));
  if (r.drill.tables.length > 0) {
    const label = { identical: 'identical', differs: 'DIFFERS', 'not-compared': 'not compared' } as const;
    out.print(renderTable(['table', 'rows expected', 'rows restored', 'content', 'ok'], r.drill.tables.map((t) => [
      `${t.schema}.${t.name}`, t.expectedRows, t.rows, t.content === 'differs' ? out.c.red(label[t.content]) : label[t.content], t.ok ? 'yes' : out.c.red('NO'),
    ])));
  }
}

export function renderPrune(r: PruneResult, out: Output): void {
  out.print(renderTable(['id', 'type', 'finished (UTC)', 'size', r.dryRun ? 'would' : 'done', 'why'], r.decisions.map((d) => [
    d.id, d.type, d.finishedAt.replace('T', ' ').slice(0, 19), formatBytes(d.bytes), d.keep ? 'keep' : r.dryRun ? 'delete' : 'deleted', d.reasons.join('; '),
  ])));
  out.print(`${r.dryRun ? 'would delete' : 'deleted'} ${r.deleted} backup(s), ${formatBytes(r.freedBytes)}; kept ${r.kept}${r.dryRun ? ' (dry run: nothing changed)' : ''}`);
}

export function renderStatus(r: StatusResult, out: Output): void {
  out.print(renderKeyValues([
    ['database', r.database], ['backup dir', r.backupDir], ['wal_level', r.walLevel], ['max_slot_wal_keep_size', r.maxSlotWalKeepSize],
    ['incremental ready', r.incrementalReady ? 'yes' : 'no'], ['chain', r.chain ? `${r.chain.root} .. ${r.chain.head} (${r.chain.length} backups)` : null],
    ['last backup', r.lastBackup ? `${r.lastBackup.id} (${r.lastBackup.finishedAt})` : null],
  ]));
  for (const b of r.blockers) out.print(`${out.c.yellow('blocked:')} ${b.message}${b.hint ? ` (fix: ${b.hint})` : ''}`);
  if (r.slots.length > 0) {
    out.print(renderTable(['slot', 'database', 'role', 'wal_status', 'confirmed', 'lag', 'retained WAL'], r.slots.map((s) => [
      s.name, s.database, s.role, s.walStatus, s.confirmedFlushLsn, s.lagBytes === null ? '' : formatBytes(s.lagBytes), s.retainedBytes === null ? '' : formatBytes(s.retainedBytes),
    ])));
    const stale = r.slots.filter((s) => s.dropSql);
    if (stale.length > 0) out.print(`slots marked old-chain or other are not this directory's chain; drop one that no backup directory uses with: ${stale[0]!.dropSql}`);
  }
  for (const w of r.warnings) out.print(`${out.c.yellow('warning:')} ${w}`);
}
