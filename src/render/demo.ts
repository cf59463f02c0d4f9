import type { Output } from './output.ts';
import { renderTable } from './table.ts';
import type { DemoResult } from '../demo/run.ts';
import type { DemoStep } from '../demo/steps.ts';

function figuresLine(f: DemoStep['figures']): string {
  return Object.entries(f).filter(([, v]) => v !== null && v !== '').map(([k, v]) => `${k}=${v}`).join('  ');
}

/** One step, printed as it finishes: what it did, its figures, and the command to do it yourself. */
export function renderStep(s: DemoStep, out: Output): void {
  const mark = s.status === 'ok' ? out.c.green('✔') : s.status === 'skipped' ? out.c.yellow('–') : out.c.red('✘');
  out.print(`${mark} ${s.step}. ${s.title} ${out.c.dim(`(${(s.durationMs / 1000).toFixed(1)} s)`)}`);
  const f = figuresLine(s.figures);
  if (f) out.print(`    ${f}`);
  if (s.note) out.print(`    ${out.c.dim(s.note)}`);
  for (const c of s.commands) out.print(`    ${out.c.cyan('$')} ${c}`);
}

export function renderDemo(r: DemoResult, out: Output): void {
  out.print('');
  out.print(`Target: ${r.target.reason} — ${r.target.server} (PostgreSQL ${r.target.serverVersion}, wal_level=${r.target.walLevel})`);
  out.print(renderTable(['#', 'step', 'status', 'seconds'], r.steps.map((s) => [s.step, s.title, s.status, (s.durationMs / 1000).toFixed(1)])));
  const c = r.cleanup;
  out.print(c.kept
    ? `Kept for exploring: databases ${r.databases.demo}, ${r.databases.restored}; backups in ${r.backupDir}. Drop them yourself when done.`
    : `Cleaned up: dropped ${c.databasesDropped.join(', ') || 'nothing'}${c.slotsDropped ? `, ${c.slotsDropped} replication slot(s)` : ''}; removed the backup directory${c.clusterStopped ? '; stopped the throwaway cluster' : ''}.`);
  out.print(`Total ${(r.durationMs / 1000).toFixed(1)} s — ${r.ok ? 'all steps passed' : 'some steps failed'}.`);
}
