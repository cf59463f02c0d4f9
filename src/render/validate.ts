import type { Output } from './output.ts';
import { renderTable } from './table.ts';
import type { CheckResult, ValidateReport } from '../validate/report.ts';

function sampleText(samples: unknown[]): string {
  return samples.map((s) => (typeof s === 'string' ? s : JSON.stringify(s))).join(', ');
}

export function renderValidate(r: ValidateReport, out: Output): void {
  const c = out.c;
  const status = (x: CheckResult) => {
    // The words of the JSON's status (pass | fail | error), so the two views never disagree; severity has its own column.
    if (x.status === 'pass') return c.green('pass');
    if (x.status === 'error') return c.magenta('error (not run)');
    return x.severity === 'error' ? c.red('FAIL') : c.yellow('FAIL');
  };
  const shown = out.verbose ? r.checks : r.checks.filter((x) => x.status !== 'pass');
  if (shown.length) {
    out.print(renderTable(
      ['check', 'table', 'severity', 'status', 'failures', out.verbose ? 'samples' : 'sample keys'],
      shown.map((x) => [x.name, x.table, x.severity, status(x), x.failures ?? '-', x.status === 'error' ? x.error?.message : sampleText(x.samples.slice(0, out.verbose ? undefined : 3))]),
      { colAligns: ['left', 'left', 'left', 'left', 'right', 'left'] },
    ));
    for (const x of r.checks.filter((y) => y.status === 'fail')) out.print(`${c.dim(`-- ${x.name}: every failing row`)}\n${x.sql};`);
  }
  for (const s of r.skipped) out.print(c.yellow(`skipped ${s.name}: ${s.reason}`));
  for (const u of r.uncheckedRelations) out.print(c.yellow(`not checked: ${u} (table missing in the database)`));
  const s = r.summary;
  const line = `${s.checks} checks on ${r.schema} at ${r.snapshotAt}: ${s.passed} passed, ${s.errors} with errors, ${s.warnings} with warnings${s.failedToRun ? `, ${s.failedToRun} could not run` : ''} (${(r.durationMs / 1000).toFixed(2)} s)`;
  out.print(s.errors || s.failedToRun ? c.red(line) : s.warnings ? c.yellow(line) : c.green(line));
}
