import type { ServiceContext } from '../service.ts';
import { bloatFindings, estimateBloat, readBloatInputs, type BloatEstimate } from './bloat.ts';
import { sortFindings, type Finding } from './findings.ts';
import { isOwnObjectFinding } from './own-objects.ts';
import { inspectIndexes, type IndexReport } from './indexes.ts';
import { readServerInfo, withDiagnosticsClient } from './session.ts';
import { countHiddenStatements, detectStatStatements, readStatements, type StatementRow, type StatStatementsStatus } from './stat-statements.ts';
import { cacheFindings, indexUsageFindings, readCacheHit, readTableStats, type CacheHit, type TableStats } from './tables.ts';
import { readAutovacuumSettings, readTableMaintenance, vacuumDue, vacuumFindings, type VacuumDue } from './vacuum.ts';
import { hiddenFinding, readVisibility } from './visibility.ts';
import { readSequenceUsage, readXidAges, sequenceFindings, wraparoundFindings, type SequenceUsage, type TableXidAge, type XidAge } from './wraparound.ts';

export interface DebugPerfOptions {
  /** A statement is slow when its mean time is at least this (PgHero: 20 ms)... */
  slowMs: number;
  /** ...and it ran at least this often (PgHero: 100 calls). */
  slowCalls: number;
  /** Rows per table/list. */
  limit: number;
}

export interface DebugPerfResult {
  database: string;
  server: string;
  statsReset: string | null;
  statStatements: Pick<StatStatementsStatus, 'available' | 'installed' | 'preloaded' | 'version' | 'columnSet' | 'problem' | 'steps'>;
  slowQueries: StatementRow[] | null;
  tables: TableStats[];
  cacheHit: CacheHit[];
  bloat: BloatEstimate[];
  vacuumDue: VacuumDue[];
  xid: { databases: XidAge[]; tables: TableXidAge[]; freezeMaxAge: number };
  sequences: SequenceUsage[];
  indexes: IndexReport;
  thresholds: { slowMs: number; slowCalls: number };
  findings: Finding[];
}

export async function debugPerf(opts: DebugPerfOptions, ctx: ServiceContext): Promise<DebugPerfResult> {
  return withDiagnosticsClient(ctx.config, 'debug-perf', async (client) => {
    const server = await readServerInfo(client);
    const findings: Finding[] = [];

    const pss = await detectStatStatements(client);
    let slowQueries: StatementRow[] | null = null;
    if (pss.problem) {
      findings.push({ check: 'slow_queries', severity: 'info', message: `slow queries not checked: ${pss.problem} (to enable: ${pss.steps.join('; then ')})` });
    } else {
      slowQueries = await readStatements(client, pss, { limit: opts.limit, minCalls: opts.slowCalls, orderBy: 'mean', minMeanMs: opts.slowMs });
      const visibility = await readVisibility(client);
      const hidden = hiddenFinding(visibility, 'hidden_statements', (await countHiddenStatements(client, pss)).statements, 'statement(s)', 'their text is \'<insufficient privilege>\', so slow ones among them are not listed');
      if (hidden) findings.push(hidden);
      for (const q of slowQueries) {
        findings.push({ check: 'slow_query', severity: 'warning', object: `queryid ${q.queryid}`, value: Math.round(q.meanMs * 10) / 10, threshold: opts.slowMs, message: `${q.calls} calls averaging ${q.meanMs.toFixed(1)} ms (${q.percent.toFixed(1)}% of the database's time): ${oneLine(q.query)}` });
      }
    }

    const tables = await readTableStats(client, opts.limit);
    findings.push(...indexUsageFindings(tables));
    const cacheHit = await readCacheHit(client);
    findings.push(...cacheFindings(cacheHit));

    const bloat = (await readBloatInputs(client)).map(estimateBloat).sort((a, b) => (b.wastedBytes ?? -1) - (a.wastedBytes ?? -1));
    findings.push(...bloatFindings(bloat));

    const av = await readAutovacuumSettings(client);
    const due = (await readTableMaintenance(client)).map((t) => vacuumDue(t, av)).filter((d): d is VacuumDue => d !== null);
    findings.push(...vacuumFindings(due));
    if (!av.autovacuum) findings.push({ check: 'autovacuum', severity: 'warning', object: 'autovacuum', value: 'off', message: 'autovacuum is off: dead tuples accumulate and xids are not frozen until someone runs VACUUM' });

    const xid = await readXidAges(client);
    findings.push(...wraparoundFindings(xid.databases, xid.freezeMaxAge));
    const sequences = await readSequenceUsage(client);
    findings.push(...sequenceFindings(sequences));

    const idx = await inspectIndexes(client, server.statsReset);
    findings.push(...idx.findings);

    const result: DebugPerfResult = {
      database: server.database,
      server: server.version,
      statsReset: server.statsReset,
      statStatements: { available: pss.available, installed: pss.installed, preloaded: pss.preloaded, version: pss.version, columnSet: pss.columnSet, problem: pss.problem, steps: pss.steps },
      slowQueries,
      tables,
      cacheHit,
      bloat: bloat.slice(0, opts.limit),
      vacuumDue: due,
      xid,
      sequences,
      indexes: idx.report,
      thresholds: { slowMs: opts.slowMs, slowCalls: opts.slowCalls },
      findings: sortFindings(findings.filter((f) => !isOwnObjectFinding(f))),
    };
    return result;
  });
}

export function oneLine(text: string, max = Number.POSITIVE_INFINITY): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
