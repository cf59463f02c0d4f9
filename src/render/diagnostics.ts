import { formatBytes, renderKeyValues, renderTable, type Output } from './index.ts';
import { countBySeverity, type Finding } from '../diagnostics/findings.ts';
import type { DebugPerfResult } from '../diagnostics/perf.ts';
import type { DebugPoolResult } from '../diagnostics/pool.ts';

const secs = (ms: number | null) => (ms === null ? '' : `${(ms / 1000).toFixed(1)}s`);

export function renderFindings(findings: readonly Finding[], out: Output): void {
  const shown = findings.filter((f) => f.severity !== 'ok');
  const c = countBySeverity(findings);
  out.print(`Findings: ${c.critical} critical, ${c.warning} warning, ${c.info} info`);
  if (shown.length === 0) return;
  const paint = (s: Finding['severity']) => (s === 'critical' ? out.c.red(s) : s === 'warning' ? out.c.yellow(s) : out.c.dim(s));
  out.print(renderTable(['severity', 'check', 'finding'], shown.map((f) => [paint(f.severity), f.check, out.clip(f.message, 160)])));
}

export function renderPool(r: DebugPoolResult, out: Output): void {
  const c = r.connections;
  out.print(renderKeyValues([
    ['database', r.database],
    ['server', r.server],
    ['connections', `${c.clientBackends} client backends of ${c.available} usable (max_connections ${c.maxConnections}, ${c.reserved} reserved); ${(c.usedFraction * 100).toFixed(0)}% used`],
    ['configured pool max', c.poolMax],
    ...(r.visibility.readAllStats ? [] : [['hidden sessions', `${r.visibility.hiddenSessions} of other roles (${r.visibility.grant})`] as [string, string]]),
    ['transaction pooler', r.pooler ? 'yes (see findings)' : 'no'],
    ...Object.entries(r.settings).map(([k, v]) => [k, v] as [string, string]),
  ]));
  out.print();
  out.print('Connections to this database by state and application');
  out.print(renderTable(['state', 'application', 'user', 'count'], r.byState.map((s) => [s.state, s.application, s.user, s.count])));
  if (r.sessions.length > 0) {
    out.print();
    out.print('Sessions not idle');
    out.print(renderTable(['pid', 'state', 'application', 'query age', 'xact age', 'in state', 'wait', 'blocked by', 'flag', 'query'],
      r.sessions.map((s) => [s.pid, s.state, s.application, secs(s.queryMs), secs(s.transactionMs), secs(s.stateMs), s.waitEvent, s.blockedBy.join(','), s.flag, out.clip(s.query, 60)])));
  }
  if (r.chains.length > 0) {
    out.print();
    out.print('Blocking chains (root blocker → everything waiting behind it)');
    out.print(renderTable(['root pid', 'state', 'xact age', 'blocked pids', 'root query'], r.chains.map((ch) => {
      const b = r.blocking.find((x) => x.pid === ch.root);
      return [ch.root, b?.state ?? '', secs(b?.transactionMs ?? null), ch.blocked.join(', '), out.clip(b?.query ?? '', 60)];
    })));
  }
  out.print();
  renderFindings(r.findings, out);
}

export function renderPerf(r: DebugPerfResult, out: Output): void {
  out.print(renderKeyValues([
    ['database', r.database],
    ['server', r.server],
    ['statistics since', r.statsReset ?? 'never reset'],
    ['pg_stat_statements', r.statStatements.problem ? `unavailable: ${r.statStatements.problem}` : `${r.statStatements.version} (${r.statStatements.columnSet} columns)`],
    ...r.cacheHit.map((h) => [`${h.kind} cache hit`, h.ratio === null ? 'no reads yet' : `${(h.ratio * 100).toFixed(2)}%`] as [string, string]),
  ]));
  if (r.slowQueries && r.slowQueries.length > 0) {
    out.print();
    out.print(`Slow queries (mean ≥ ${r.thresholds.slowMs} ms, ≥ ${r.thresholds.slowCalls} calls)`);
    out.print(renderTable(['queryid', 'calls', 'mean ms', 'total ms', '% time', 'query'], r.slowQueries.map((q) => [q.queryid, q.calls, q.meanMs.toFixed(1), q.totalMs.toFixed(0), q.percent.toFixed(1), out.clip(q.query, 70)])));
  }
  out.print();
  out.print('Tables (largest first)');
  out.print(renderTable(['table', 'rows', 'total', 'heap', 'indexes', 'seq scans', 'idx scans', 'idx usage %', 'est. bloat'], r.tables.map((t) => {
    const b = r.bloat.find((x) => x.table === t.table);
    const bloat = !b ? '' : b.withheld ? `withheld (${b.withheld.replace(/_/g, ' ')})` : `${formatBytes(b.wastedBytes ?? 0)} (${((b.ratio ?? 0) * 100).toFixed(0)}%)`;
    return [t.table, t.rows, formatBytes(t.totalBytes), formatBytes(t.tableBytes), formatBytes(t.indexBytes), t.seqScans, t.indexScans, t.indexUsagePercent ?? '', bloat];
  })));
  const i = r.indexes;
  if (i.unused.length + i.redundant.length + i.invalid.length > 0) {
    out.print();
    out.print(`Index problems (scan counters since ${i.statsReset ?? 'the cluster was created or last reset'})`);
    out.print(renderTable(['index', 'table', 'problem', 'size'], [
      ...i.unused.map((u) => [u.index, u.table, 'unused (0 scans)', formatBytes(u.bytes)]),
      ...i.redundant.map((d) => [d.index, d.table, `${d.kind} by ${d.coveredBy}`, formatBytes(d.bytes)]),
      ...i.invalid.map((v) => [v.index, v.table, 'INVALID', '']),
    ]));
  }
  if (r.vacuumDue.length > 0) {
    out.print();
    out.print('Tables due for vacuum');
    out.print(renderTable(['table', 'dead tuples', 'threshold', 'autovacuum', 'last vacuum'], r.vacuumDue.map((d) => [d.table, d.deadTuples, d.threshold, d.autovacuumEnabled ? 'on' : 'OFF', d.lastVacuum ?? 'never'])));
  }
  out.print();
  out.print(renderTable(['database', 'xid age', 'left before wraparound'], r.xid.databases.map((d) => [d.database, d.age, d.remaining])));
  const seqs = r.sequences.filter((s) => s.usedFraction >= 0.5);
  if (seqs.length > 0) {
    out.print();
    out.print(renderTable(['sequence', 'column', 'used'], seqs.map((s) => [s.sequence, s.column ? `${s.column} ${s.columnType}` : '', `${(s.usedFraction * 100).toFixed(1)}%`])));
  }
  out.print();
  renderFindings(r.findings, out);
}
