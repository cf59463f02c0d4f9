import type { BackupType } from '../archive/id.ts';
import type { HealthBackup, HealthInput, HealthResult } from './check.ts';

/**
 * OpenMetrics text for node_exporter's textfile collector (which also reads the Prometheus text format, of which
 * this is a compatible subset). Every family has TYPE, UNIT (when the name ends in one) and HELP lines before its
 * samples; label values escape backslash, double quote and newline; the exposition ends with "# EOF".
 */
interface Family {
  name: string;
  type: 'gauge' | 'info';
  unit?: string;
  help: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function renderFamilies(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`bad metric name ${f.name}`);
    if (f.samples.length === 0) continue;
    out.push(`# TYPE ${f.name} ${f.type}`);
    if (f.unit) out.push(`# UNIT ${f.name} ${f.unit}`);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => {
        if (!LABEL.test(k)) throw new Error(`bad label name ${k}`);
        return `${k}="${escapeLabelValue(v)}"`;
      });
      // An info metric's sample is <name>_info in OpenMetrics.
      out.push(`${f.name}${f.type === 'info' ? '_info' : ''}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}`);
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

/** The metrics of one database's backups: newest per type, counts, the slot, the last verify, and the check verdict. */
export function renderOpenMetrics(input: HealthInput, result: HealthResult, now: Date): string {
  const db = { database: input.database };
  const newestByType = new Map<BackupType, HealthBackup>();
  const counts = new Map<BackupType, number>();
  for (const b of input.backups) {
    counts.set(b.type, (counts.get(b.type) ?? 0) + 1);
    const cur = newestByType.get(b.type);
    if (!cur || Date.parse(b.finishedAt) > Date.parse(cur.finishedAt)) newestByType.set(b.type, b);
  }
  const types = [...newestByType.keys()].sort();
  const perType = (f: (b: HealthBackup) => number) => types.map((t) => ({ labels: { ...db, type: t }, value: f(newestByType.get(t)!) }));
  const slot = input.slot;
  const slotLabels = slot ? { ...db, slot: slot.name } : db;
  const families: Family[] = [
    { name: 'axisor_backup_last_success_timestamp_seconds', type: 'gauge', unit: 'seconds', help: 'Finish time of the newest complete backup of each type (Unix seconds).', samples: perType((b) => seconds(b.finishedAt)) },
    { name: 'axisor_backup_last_start_timestamp_seconds', type: 'gauge', unit: 'seconds', help: 'Start time of the newest complete backup of each type (Unix seconds).', samples: perType((b) => seconds(b.startedAt)) },
    { name: 'axisor_backup_last_duration_seconds', type: 'gauge', unit: 'seconds', help: 'Wall time of the newest complete backup of each type.', samples: perType((b) => b.durationMs / 1000) },
    { name: 'axisor_backup_last_size_bytes', type: 'gauge', unit: 'bytes', help: 'Stored size (compressed, encrypted) of the newest complete backup of each type.', samples: perType((b) => b.bytes) },
    { name: 'axisor_backup_count', type: 'gauge', help: 'Complete backups in the catalog, by type.', samples: [...counts.keys()].sort().map((t) => ({ labels: { ...db, type: t }, value: counts.get(t)! })) },
    { name: 'axisor_backup_damaged_count', type: 'gauge', help: 'Catalog entries that are damaged or unreadable.', samples: [{ labels: db, value: input.damaged }] },
    { name: 'axisor_backup_slot_retained_wal_bytes', type: 'gauge', unit: 'bytes', help: 'WAL the incremental chain\'s replication slot keeps on the server.', samples: slot?.retainedBytes != null ? [{ labels: slotLabels, value: slot.retainedBytes }] : [] },
    { name: 'axisor_backup_slot_lag_bytes', type: 'gauge', unit: 'bytes', help: 'Bytes of WAL not yet captured by an incremental backup.', samples: slot?.lagBytes != null ? [{ labels: slotLabels, value: slot.lagBytes }] : [] },
    { name: 'axisor_backup_slot_lost', type: 'gauge', help: '1 when the chain\'s slot lost its WAL or is missing: incrementals cannot continue.', samples: slot || input.chainExpected ? [{ labels: slotLabels, value: !slot || slot.walStatus === 'lost' ? 1 : 0 }] : [] },
    { name: 'axisor_backup_last_verify_timestamp_seconds', type: 'gauge', unit: 'seconds', help: 'Finish time of the last backup verify (Unix seconds).', samples: input.lastVerify ? [{ labels: db, value: seconds(input.lastVerify.finishedAt) }] : [] },
    { name: 'axisor_backup_last_verify_success', type: 'gauge', help: '1 when the last backup verify passed, 0 when it failed.', samples: input.lastVerify ? [{ labels: db, value: input.lastVerify.ok ? 1 : 0 }] : [] },
    { name: 'axisor_backup_check_status', type: 'gauge', help: 'Verdict of backup status --check: 0 ok, 1 warning, 2 critical.', samples: [{ labels: db, value: result.status }] },
    { name: 'axisor_backup_metrics_generated_timestamp_seconds', type: 'gauge', unit: 'seconds', help: 'When these metrics were written (Unix seconds).', samples: [{ labels: db, value: now.getTime() / 1000 }] },
  ];
  return renderFamilies(families);
}
