import { describe, expect, test } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBackupHealth, DEFAULT_THRESHOLDS, escapeLabelValue, formatNagios, NAGIOS, renderOpenMetrics, toHealthBackup, writeFileAtomic, type HealthInput } from '../../src/backup-health/index.ts';

const NOW = new Date('2026-11-30T12:00:00Z');
const H = 3_600_000;
const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * H).toISOString();
const backup = (id: string, type: 'full' | 'incremental' | 'schema-only', hoursAgo: number, bytes = 1000, durationMs = 5000) =>
  ({ id, type, startedAt: at(hoursAgo + durationMs / H), finishedAt: at(hoursAgo), durationMs, bytes });

function input(over: Partial<HealthInput> = {}): HealthInput {
  return {
    database: 'axisor',
    backups: [backup('f1', 'full', 30, 85_000_000, 11_000), backup('i1', 'incremental', 2, 4_000, 900)],
    damaged: 0,
    slot: { name: 'axisor_abc_1', walStatus: 'reserved', lagBytes: 16_384, retainedBytes: 50_000_000 },
    chainExpected: true,
    lastVerify: { id: 'f1', finishedAt: at(29), ok: true },
    ...over,
  };
}

describe('backup status --check', () => {
  test('fresh backups and a healthy slot are OK', () => {
    const r = checkBackupHealth(input(), DEFAULT_THRESHOLDS, NOW);
    expect(r.status).toBe(NAGIOS.OK);
    expect(r.newest?.id).toBe('i1');
    expect(r.ageSeconds).toBe(7200);
    expect(formatNagios(r)).toMatch(/^AXISOR BACKUP OK - axisor: newest backup i1 \(incremental\) finished 2h 0m ago; slot axisor_abc_1: retains 48 MiB of WAL; last verify of f1 passed 29h 0m ago \| 'age'=7200s;;93600;0; /);
  });

  test('age: CRITICAL past --max-age (default 26h), WARNING past the warning age; schema-only backups do not count', () => {
    const stale = input({ backups: [backup('f1', 'full', 27), backup('s1', 'schema-only', 1)] });
    expect(checkBackupHealth(stale, DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.CRITICAL);
    expect(checkBackupHealth(stale, { ...DEFAULT_THRESHOLDS, maxAgeMs: 28 * H }, NOW).status).toBe(NAGIOS.OK);
    expect(checkBackupHealth(stale, { ...DEFAULT_THRESHOLDS, maxAgeMs: 28 * H, warnAgeMs: 20 * H }, NOW).status).toBe(NAGIOS.WARNING);
    // Boundary: exactly at the limit is still fine.
    expect(checkBackupHealth(input({ backups: [backup('f1', 'full', 26)] }), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.OK);
    const none = checkBackupHealth(input({ backups: [] }), DEFAULT_THRESHOLDS, NOW);
    expect(none.status).toBe(NAGIOS.CRITICAL);
    expect(formatNagios(none)).toContain('no complete backup of axisor');
  });

  test('slot: retained WAL over the thresholds, unreserved/lost WAL, a missing slot', () => {
    const slot = (walStatus: string, retainedBytes: number) => input({ slot: { name: 's', walStatus, lagBytes: 0, retainedBytes } });
    expect(checkBackupHealth(slot('extended', 2 * 1024 ** 3), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.WARNING);
    expect(checkBackupHealth(slot('extended', 9 * 1024 ** 3), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.CRITICAL);
    expect(checkBackupHealth(slot('unreserved', 0), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.CRITICAL);
    expect(checkBackupHealth(slot('lost', 0), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.CRITICAL);
    expect(checkBackupHealth(input({ slot: null }), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.CRITICAL);
    expect(checkBackupHealth(input({ slot: null, chainExpected: false }), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.OK);
  });

  test('verify: a failed last verify is CRITICAL; an old or missing one WARNING only when a verify age is set; damaged entries WARN', () => {
    expect(checkBackupHealth(input({ lastVerify: { id: 'f1', finishedAt: at(1), ok: false } }), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.CRITICAL);
    expect(checkBackupHealth(input({ lastVerify: null }), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.OK);
    expect(checkBackupHealth(input({ lastVerify: null }), { ...DEFAULT_THRESHOLDS, verifyMaxAgeMs: 48 * H }, NOW).status).toBe(NAGIOS.WARNING);
    expect(checkBackupHealth(input(), { ...DEFAULT_THRESHOLDS, verifyMaxAgeMs: 24 * H }, NOW).status).toBe(NAGIOS.WARNING);
    expect(checkBackupHealth(input({ damaged: 2 }), DEFAULT_THRESHOLDS, NOW).status).toBe(NAGIOS.WARNING);
  });

  test('the worst check wins and is printed first', () => {
    const r = checkBackupHealth(input({ damaged: 1, lastVerify: { id: 'x', finishedAt: at(1), ok: false } }), DEFAULT_THRESHOLDS, NOW);
    expect(r.status).toBe(NAGIOS.CRITICAL);
    expect(formatNagios(r)).toMatch(/^AXISOR BACKUP CRITICAL - axisor: last verify of x FAILED/);
  });

  test('toHealthBackup takes the stored size from a manifest', () => {
    expect(toHealthBackup({ id: 'a', type: 'full', startedAt: at(1), finishedAt: at(0), durationMs: 10, totals: { bytes: 7, rawBytes: 70, rows: 1 } }).bytes).toBe(7);
  });
});

/**
 * A strict reader of the OpenMetrics text format (the subset we emit): returns the samples, throws on any
 * violation. Kept independent of the renderer so it can catch the renderer's mistakes.
 */
function parseOpenMetrics(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  if (!text.endsWith('# EOF\n')) throw new Error('does not end with "# EOF\\n"');
  const lines = text.slice(0, -'# EOF\n'.length).split('\n').filter((l, i, a) => !(i === a.length - 1 && l === ''));
  const families = new Map<string, { type?: string; help?: boolean; unit?: string; closed: boolean }>();
  let current: string | null = null;
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const seen = new Set<string>();
  for (const line of lines) {
    const meta = /^# (TYPE|HELP|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (current !== name) {
        if (current) families.get(current)!.closed = true;
        if (families.has(name!)) throw new Error(`family ${name} is split`);
        families.set(name!, { closed: false });
        current = name!;
      }
      const f = families.get(name!)!;
      if (kind === 'TYPE') {
        if (!['gauge', 'counter', 'info', 'stateset', 'unknown', 'histogram', 'summary', 'gaugehistogram'].includes(rest!)) throw new Error(`bad type ${rest}`);
        f.type = rest;
      } else if (kind === 'UNIT') {
        if (!name!.endsWith(`_${rest}`)) throw new Error(`${name} does not end with its unit ${rest}`);
        f.unit = rest;
      } else {
        if (/(^|[^\\])\\[^\\"n]/.test(rest!)) throw new Error(`bad escape in HELP of ${name}`);
        f.help = true;
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, valueText] = m;
    const fam = current && (name === current || name === `${current}_info`) ? families.get(current)! : null;
    if (!fam || !fam.type || !fam.help) throw new Error(`sample ${name} without TYPE and HELP of its family before it`);
    const labels: Record<string, string> = {};
    if (labelText !== undefined) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let pos = 0;
      while (pos < labelText.length) {
        re.lastIndex = pos;
        const lm = re.exec(labelText);
        if (!lm) throw new Error(`bad labels: {${labelText}}`);
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
    }
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (valueText !== 'NaN' && Number.isNaN(value)) throw new Error(`bad value ${valueText}`);
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) throw new Error(`duplicate sample ${id}`);
    seen.add(id);
    samples.push({ name: name!, labels, value });
  }
  return samples;
}

describe('OpenMetrics', () => {
  test('the rendered text passes a strict format check and carries the expected samples', () => {
    const inp = input();
    const text = renderOpenMetrics(inp, checkBackupHealth(inp, DEFAULT_THRESHOLDS, NOW), NOW);
    const samples = parseOpenMetrics(text);
    const get = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(get('axisor_backup_last_success_timestamp_seconds', { database: 'axisor', type: 'full' })).toBe(Date.parse(at(30)) / 1000);
    expect(get('axisor_backup_last_success_timestamp_seconds', { type: 'incremental' })).toBe(Date.parse(at(2)) / 1000);
    expect(get('axisor_backup_last_size_bytes', { type: 'full' })).toBe(85_000_000);
    expect(get('axisor_backup_last_duration_seconds', { type: 'full' })).toBe(11);
    expect(get('axisor_backup_slot_lag_bytes', { slot: 'axisor_abc_1' })).toBe(16_384);
    expect(get('axisor_backup_slot_retained_wal_bytes', { slot: 'axisor_abc_1' })).toBe(50_000_000);
    expect(get('axisor_backup_last_verify_success', {})).toBe(1);
    expect(get('axisor_backup_check_status', {})).toBe(0);
    expect(text).toContain('# TYPE axisor_backup_last_success_timestamp_seconds gauge\n# UNIT axisor_backup_last_success_timestamp_seconds seconds\n# HELP axisor_backup_last_success_timestamp_seconds ');
  });

  test('label values with quotes, backslashes and newlines are escaped and read back intact', () => {
    const nasty = 'we"ird\\db\nname';
    expect(escapeLabelValue(nasty)).toBe('we\\"ird\\\\db\\nname');
    const inp = input({ database: nasty });
    const samples = parseOpenMetrics(renderOpenMetrics(inp, checkBackupHealth(inp, DEFAULT_THRESHOLDS, NOW), NOW));
    expect(samples.every((s) => s.labels.database === nasty)).toBe(true);
  });

  test('the format check itself rejects broken text (so the test above can fail)', () => {
    const good = '# TYPE a gauge\n# HELP a x\na{l="v"} 1\n# EOF\n';
    expect(parseOpenMetrics(good)).toHaveLength(1);
    expect(() => parseOpenMetrics(good.replace('# EOF\n', ''))).toThrow(/EOF/);
    expect(() => parseOpenMetrics('a 1\n# EOF\n')).toThrow(/without TYPE/);
    expect(() => parseOpenMetrics(good.replace('l="v"', 'l="v"x"'))).toThrow(/bad/);
    expect(() => parseOpenMetrics(good.replace('a{l="v"} 1', 'a{l="v"} 1\na{l="v"} 2'))).toThrow(/duplicate/);
    expect(() => parseOpenMetrics('# TYPE a_bytes gauge\n# UNIT a_bytes seconds\n# HELP a_bytes x\na_bytes 1\n# EOF\n')).toThrow(/unit/);
  });

  test('no chain, no verify, no backups: only the families with data, still valid', () => {
    const inp = input({ backups: [], slot: null, chainExpected: false, lastVerify: null });
    const text = renderOpenMetrics(inp, checkBackupHealth(inp, DEFAULT_THRESHOLDS, NOW), NOW);
    const samples = parseOpenMetrics(text);
    expect(samples.find((s) => s.name === 'axisor_backup_check_status')?.value).toBe(2);
    expect(text).not.toContain('axisor_backup_last_success_timestamp_seconds');
    expect(text).not.toContain('slot');
  });
});

describe('atomic metrics file', () => {
  test('replaces the file whole, leaves no temporary file, 0644', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'axisor-metrics-'));
    try {
      const path = join(dir, 'axisor_backup.prom');
      await writeFileAtomic(path, 'one\n');
      await writeFileAtomic(path, 'two\n');
      expect(await readFile(path, 'utf8')).toBe('two\n');
      expect(await readdir(dir)).toEqual(['axisor_backup.prom']);
      expect((await stat(path)).mode & 0o777).toBe(0o644);
      await expect(writeFileAtomic(join(dir, 'missing', 'x.prom'), 'x')).rejects.toMatchObject({ exitCode: 73 });
      expect(await readdir(dir)).toEqual(['axisor_backup.prom']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
