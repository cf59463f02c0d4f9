import type { BackupType } from '../archive/id.ts';
import type { Manifest } from '../archive/manifest.ts';

/**
 * `backup status --check`: a Nagios-style verdict from data the catalog and the server already give
 * (backup manifests, the chain's slot, the last verify). Pure: the caller gathers the input, so the
 * thresholds are unit-tested with fixed inputs and no clock.
 */
export const NAGIOS = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type NagiosStatus = (typeof NAGIOS)[keyof typeof NAGIOS];
export const NAGIOS_LABEL: Record<NagiosStatus, string> = { 0: 'OK', 1: 'WARNING', 2: 'CRITICAL', 3: 'UNKNOWN' };

/** What health needs of a complete backup (a subset of src/archive/manifest.ts's Manifest). */
export interface HealthBackup {
  id: string;
  type: BackupType;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Stored bytes (after compression and encryption). */
  bytes: number;
}

export function toHealthBackup(m: Pick<Manifest, 'id' | 'type' | 'startedAt' | 'finishedAt' | 'durationMs' | 'totals'>): HealthBackup {
  return { id: m.id, type: m.type, startedAt: m.startedAt, finishedAt: m.finishedAt, durationMs: m.durationMs, bytes: m.totals.bytes };
}

/** The chain's replication slot (a subset of src/backup/slots.ts's SlotState). */
export interface HealthSlot {
  name: string;
  walStatus: string | null;
  lagBytes: number | null;
  retainedBytes: number | null;
}

export interface HealthVerify {
  id: string;
  finishedAt: string;
  ok: boolean;
}

export interface HealthInput {
  database: string;
  /** Complete (published, readable) backups of this database, any order. */
  backups: HealthBackup[];
  /** Catalog entries that are damaged (unreadable or failing their manifest check). */
  damaged: number;
  /** The slot feeding the current incremental chain; null when there is no chain. */
  slot: HealthSlot | null;
  /** A chain exists, so a slot is expected (a missing slot then means the chain cannot continue). */
  chainExpected: boolean;
  lastVerify: HealthVerify | null;
}

export interface HealthThresholds {
  /** CRITICAL when the newest data backup (full or incremental) finished longer ago than this. Default 26 h. */
  maxAgeMs: number;
  /** WARNING from this age on (default: none, only CRITICAL at maxAgeMs). */
  warnAgeMs?: number;
  /** WAL retained by the slot: WARNING / CRITICAL above these. Defaults 1 GiB / 8 GiB. */
  warnRetainedBytes: number;
  critRetainedBytes: number;
  /** WARNING when the last successful verify is older than this, or there is none (default: not checked). */
  verifyMaxAgeMs?: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  maxAgeMs: 26 * 3_600_000,
  warnRetainedBytes: 1024 ** 3,
  critRetainedBytes: 8 * 1024 ** 3,
};

export interface HealthCheckItem {
  name: 'age' | 'slot' | 'verify' | 'catalog';
  status: NagiosStatus;
  message: string;
}

export interface HealthPerf {
  label: string;
  value: number;
  uom: '' | 's' | 'B';
  warn?: number;
  crit?: number;
}

export interface HealthResult {
  database: string;
  status: NagiosStatus;
  label: string;
  checks: HealthCheckItem[];
  newest: HealthBackup | null;
  ageSeconds: number | null;
  perf: HealthPerf[];
}

const DATA_TYPES: ReadonlySet<BackupType> = new Set(['full', 'incremental']);

export function formatAge(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  return h >= 48 ? `${Math.floor(h / 24)}d ${h % 24}h` : h > 0 ? `${h}h ${m}m` : `${m}m`;
}

function bytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(0)} MiB`;
}

export function checkBackupHealth(input: HealthInput, t: HealthThresholds, now: Date): HealthResult {
  const checks: HealthCheckItem[] = [];
  const perf: HealthPerf[] = [];
  const data = input.backups.filter((b) => DATA_TYPES.has(b.type)).sort((a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt));
  const newest = data[data.length - 1] ?? null;
  let ageSeconds: number | null = null;
  if (!newest) {
    checks.push({ name: 'age', status: NAGIOS.CRITICAL, message: `no complete backup of ${input.database}` });
  } else {
    const age = Math.max(0, now.getTime() - Date.parse(newest.finishedAt));
    ageSeconds = Math.round(age / 1000);
    const status = age > t.maxAgeMs ? NAGIOS.CRITICAL : t.warnAgeMs !== undefined && age > t.warnAgeMs ? NAGIOS.WARNING : NAGIOS.OK;
    checks.push({ name: 'age', status, message: `newest backup ${newest.id} (${newest.type}) finished ${formatAge(age)} ago${status ? ` (max ${formatAge(status === NAGIOS.CRITICAL ? t.maxAgeMs : t.warnAgeMs!)})` : ''}` });
    perf.push({ label: 'age', value: ageSeconds, uom: 's', warn: t.warnAgeMs === undefined ? undefined : Math.round(t.warnAgeMs / 1000), crit: Math.round(t.maxAgeMs / 1000) });
    perf.push({ label: 'size', value: newest.bytes, uom: 'B' });
    perf.push({ label: 'duration', value: Math.round(newest.durationMs) / 1000, uom: 's' });
  }

  if (input.slot) {
    const s = input.slot;
    const retained = s.retainedBytes ?? 0;
    let status: NagiosStatus = NAGIOS.OK;
    const why: string[] = [];
    if (s.walStatus === 'lost') (status = NAGIOS.CRITICAL), why.push('its WAL was removed: the chain is broken, take a full backup');
    else if (s.walStatus === 'unreserved') (status = NAGIOS.CRITICAL), why.push('its WAL is about to be removed (wal_status unreserved)');
    if (retained > t.critRetainedBytes) (status = NAGIOS.CRITICAL), why.push(`retains ${bytes(retained)} of WAL (critical above ${bytes(t.critRetainedBytes)})`);
    else if (retained > t.warnRetainedBytes) (status = Math.max(status, NAGIOS.WARNING) as NagiosStatus), why.push(`retains ${bytes(retained)} of WAL (warning above ${bytes(t.warnRetainedBytes)})`);
    checks.push({ name: 'slot', status, message: `slot ${s.name}: ${why.length ? why.join('; ') : `retains ${bytes(retained)} of WAL`}` });
    perf.push({ label: 'slot_retained', value: retained, uom: 'B', warn: t.warnRetainedBytes, crit: t.critRetainedBytes });
    if (s.lagBytes !== null) perf.push({ label: 'slot_lag', value: s.lagBytes, uom: 'B' });
  } else if (input.chainExpected) {
    checks.push({ name: 'slot', status: NAGIOS.CRITICAL, message: 'the incremental chain\'s slot is missing: incrementals cannot continue, take a full backup' });
  }

  if (input.lastVerify) {
    const v = input.lastVerify;
    const age = now.getTime() - Date.parse(v.finishedAt);
    const status = !v.ok ? NAGIOS.CRITICAL : t.verifyMaxAgeMs !== undefined && age > t.verifyMaxAgeMs ? NAGIOS.WARNING : NAGIOS.OK;
    checks.push({ name: 'verify', status, message: `last verify of ${v.id} ${v.ok ? 'passed' : 'FAILED'} ${formatAge(Math.max(0, age))} ago` });
  } else if (t.verifyMaxAgeMs !== undefined) {
    checks.push({ name: 'verify', status: NAGIOS.WARNING, message: 'no verify has run (axisor-db backup verify --latest)' });
  }

  if (input.damaged > 0) checks.push({ name: 'catalog', status: NAGIOS.WARNING, message: `${input.damaged} damaged backup(s) in the catalog (axisor-db backup list shows them)` });

  const status = checks.reduce<NagiosStatus>((worst, c) => (c.status > worst ? c.status : worst), NAGIOS.OK);
  return { database: input.database, status, label: NAGIOS_LABEL[status], checks, newest, ageSeconds, perf };
}

/** Nagios plugin output: one line, worst problems first, then perfdata after '|'. */
export function formatNagios(r: HealthResult): string {
  const ordered = [...r.checks].sort((a, b) => b.status - a.status);
  const text = ordered.map((c) => c.message.replace(/\|/g, '/')).join('; ');
  const perf = r.perf.map((p) => `'${p.label}'=${p.value}${p.uom};${p.warn ?? ''};${p.crit ?? ''};0;`).join(' ');
  return `AXISOR BACKUP ${r.label} - ${r.database}: ${text}${perf ? ` | ${perf}` : ''}`;
}
