import { renderFindings } from './diagnostics.ts';
import { formatBytes, renderKeyValues, renderTable, type Output } from './index.ts';
import type { OptimizeResult } from '../optimize/optimize.ts';

const pct = (r: number | null) => (r === null ? '' : `${Math.round(r * 100)}%`);
const cost = (c: number | null) => (c === null ? '' : c.toFixed(0));

export function renderOptimize(r: OptimizeResult, out: Output): void {
  out.print(renderKeyValues([
    ['database', r.database],
    ['server', r.server],
    ['pg_stat_statements', `${r.statStatements.version} (${r.statStatements.columnSet} columns)${r.statStatements.statsReset ? `, since ${r.statStatements.statsReset}` : ''}`],
    ['method', r.method === 'hypopg' ? `HypoPG ${r.hypopg.version}: hypothetical indexes, planner-proven (high confidence)` : `statistics heuristic (LOW confidence): ${r.hypopg.note}`],
    ['bar', `cost -${Math.round(r.thresholds.minImprovement * 100)}% or better, statements costing ≥ ${r.thresholds.minCost}, called ≥ ${r.thresholds.minCalls} times`],
    ['statements', `${r.statements.length} planned of the top ${r.statementsSeen} by total time${r.hidden.statements > 0 ? `; ${r.hidden.statements} hidden from role ${r.hidden.role} (${r.hidden.grant})` : ''}`],
  ]));
  if (r.suggestions.length > 0) {
    out.print();
    out.print('Suggested indexes');
    out.print(renderTable(['table', 'columns', 'cost cut', 'confidence', 'est. size', 'writes/s', 'statements', 'index'], r.suggestions.map((s) => [
      `${s.schema}.${s.table}`, s.columns.join(', '), pct(s.reduction), s.confidence, s.estimatedBytes === null ? '' : formatBytes(s.estimatedBytes),
      s.writeOverhead ? `${s.writeOverhead.writesPerSecond} (${s.writeOverhead.existingIndexes} idx)` : '', s.statements.length, s.name,
    ])));
    if (!r.applied && !r.migration) {
      out.print('Nothing was changed. To create them (CONCURRENTLY, with a lock timeout):');
      for (const s of r.suggestions) out.print(`  ${s.sql};`);
      out.print('or rerun with --apply, or with --write-migration to add them to prisma/migrations and schema.prisma.');
    }
  }
  if (r.statements.length > 0) {
    out.print();
    out.print('Statements');
    out.print(renderTable(['queryid', 'calls', 'mean ms', 'cost', 'with index', 'cut', 'outcome', 'query'], r.statements.map((s) => [
      s.queryid, s.calls, s.meanMs.toFixed(1), cost(s.initialCost), cost(s.newCost), pct(s.reduction), s.outcome.replace(/_/g, ' '), out.clip(s.query, 60),
    ])));
  }
  if (r.applied) {
    out.print();
    out.print(renderTable(['index', 'status', 'plan uses it', 'dropped invalid leftover', 'seconds'], r.applied.map((a) => [a.index, a.status + (a.error ? `: ${a.error}` : ''), a.verified === null ? '' : a.verified ? 'yes' : 'no', a.droppedInvalid ? 'yes' : '', (a.ms / 1000).toFixed(1)])));
  }
  if (r.migration) {
    out.print();
    out.print(`Wrote ${r.migration.file}`);
    for (const a of r.migration.schemaIndexes) out.print(`  ${r.migration.schemaFile}: model ${a.model} += ${a.line}`);
    for (const s of r.migration.schemaSkipped) out.warn(`${s.index} not added to ${r.migration.schemaFile}: ${s.reason}`);
  }
  out.print();
  renderFindings(r.findings, out);
}
