import type { Output } from './output.ts';
import { renderTable } from './table.ts';
import type { FixRun } from '../fix/audit.ts';
import type { FixReport } from '../fix/service.ts';
import type { UndoOutcome } from '../fix/undo.ts';

const keys = (s: unknown[]) => s.map((k) => (typeof k === 'string' ? k : JSON.stringify(k))).join(', ');

export function renderFix(r: FixReport, out: Output): void {
  const c = out.c;
  const rows = r.checks.filter((x) => x.found > 0 || x.changes.length);
  if (!rows.length) {
    out.print(c.green(`nothing to fix (${r.checks.length} fixable checks pass)`));
    return;
  }
  out.print(renderTable(
    ['check', 'found', r.mode === 'apply' ? 'changed' : 'would change', 'sample keys', 'action'],
    rows.map((x) => [x.name, x.found, x.changes.map((ch) => `${ch.op} ${ch.rows} ${ch.table}`).join('\n'), keys(x.samples.slice(0, 3)), x.action]),
    { colAligns: ['left', 'right', 'left', 'left', 'left'] },
  ));
  const total = `${r.totals.deleted} rows deleted, ${r.totals.updated} updated (every one copied to ${r.quarantineSchema}.rows)`;
  if (r.mode === 'dry-run') {
    out.print(c.yellow(`dry run: rolled back, nothing changed. Would have: ${total}. Run again with --apply.`));
  } else {
    const left = r.checks.filter((x) => (x.remaining ?? 0) > 0);
    out.print(c.green(`applied run ${r.runId}: ${total}. Undo with: axisor-db fix --undo ${r.runId}`));
    for (const x of left) out.print(c.red(`${x.name} still has ${x.remaining} failing rows (changed while the fix ran?): run validate`));
  }
}

export function renderUndo(r: UndoOutcome, out: Output): void {
  for (const w of r.warnings ?? []) out.warn(w);
  out.print(renderTable(['step', 'table', 'action', 'rows'], r.steps.map((s) => [s.step, s.table, s.action, s.rows]), { colAligns: ['right', 'left', 'left', 'right'] }));
  out.print(out.c.green(`run ${r.undoneRun} undone (recorded as run ${r.undoRunId})`));
}

export function renderHistory(r: { runs: FixRun[] }, out: Output): void {
  if (!r.runs.length) {
    out.print('no fix runs recorded');
    return;
  }
  out.print(renderTable(
    ['run id', 'kind', 'status', 'started', 'who', 'checks', 'rows kept'],
    r.runs.map((x) => [x.runId, x.kind === 'undo' ? `undo of ${x.undoOf}` : x.kind, x.status, x.startedAt, `${x.dbUser}${x.osUser ? ` (${x.osUser})` : ''}`, x.checks.length <= 3 ? x.checks.join('\n') : `${x.checks.length} checks`, x.quarantinedRows]),
  ));
}
