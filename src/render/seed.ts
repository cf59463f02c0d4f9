import type { Output } from './output.ts';
import { renderKeyValues, renderTable } from './table.ts';
import type { SeedResult } from '../seed/service.ts';

const n = (x: number) => x.toLocaleString('en-US');

/** Human view of a seed run: one row per table, then the trade rates, each labelled with what it measures. */
export function renderSeed(r: SeedResult, out: Output): void {
  out.print(renderTable(['table', 'rows', 'COPY ms', 'rows/s'], r.tables.map((t) => [t.table, n(t.rows), n(t.copyMs), n(t.rowsPerSecond)]), {
    colAligns: ['left', 'right', 'right', 'right'],
  }));
  out.print(renderKeyValues([
    ['seed', `${r.seed} (ids ${r.seedTag}-..., as of ${r.asOf})`],
    ['load path', r.loadPath === 'bulk' ? 'bulk: indexes and foreign keys dropped, COPY (binary, FREEZE), rebuilt' : 'constrained: COPY into the full schema'],
    ['TradeLog COPY', `${n(r.trades.rows)} rows in ${n(r.trades.copyMs)} ms = ${n(r.trades.copyRowsPerSecond)} rows/s`],
    ['TradeLog COPY + its index/FK rebuild', `${n(r.trades.withRebuildMs)} ms = ${n(r.trades.withRebuildRowsPerSecond)} rows/s`],
    ['all tables', `${n(r.totalRows)} rows; COPY ${n(r.copyMs)} ms, rebuild ${n(r.rebuildMs)} ms, ANALYZE ${n(r.analyzeMs)} ms`],
    ['phases', `prepare ${n(r.phases.prepareMs)} ms, COPY ${n(r.phases.copyMs)}, keys ${n(r.phases.keysMs)}, indexes ${n(r.phases.indexesMs)}, ` +
      `foreign keys ${n(r.phases.foreignKeysMs)}, commit ${n(r.phases.commitMs)}, ANALYZE ${n(r.phases.analyzeMs)} (${r.phases.analyzeSessions} sessions); Node CPU ${n(r.phases.nodeCpuMs)} ms`],
    ['end to end', `${n(r.totalMs)} ms = ${n(r.rowsPerSecond)} rows/s (all tables, everything included)`],
  ]));
}
