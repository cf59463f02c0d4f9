import type pg from 'pg';
import { quoteIdent } from '../db/ident.ts';
import { sortFindings, type Finding } from '../diagnostics/findings.ts';
import { isOwnObjectFinding, isOwnTable } from '../diagnostics/own-objects.ts';
import { inspectIndexes, type IndexInfo, type IndexReport } from '../diagnostics/indexes.ts';
import { oneLine } from '../diagnostics/perf.ts';
import { readServerInfo, withDiagnosticsClient } from '../diagnostics/session.ts';
import { countHiddenStatements, detectStatStatements, readStatements, requireStatStatements, type StatementRow } from '../diagnostics/stat-statements.ts';
import { hiddenFinding, readVisibility } from '../diagnostics/visibility.ts';
import { privilegeFix } from '../db/privilege.ts';
import { readAutovacuumSettings, readTableMaintenance, staleStatistics, type StaleStatistics } from '../diagnostics/vacuum.ts';
import type { AxisorConfig } from '../config/types.ts';
import type { ProgressFn } from '../progress.ts';
import type { ServiceContext } from '../service.ts';
import { analyzeTable, applySuggestion, withApplyClient, type ApplyReport } from './apply.ts';
import { parseStatement, resolveColumns } from './candidates.ts';
import { TableCatalog, userDefinedFunctions } from './catalog.ts';
import { proveWithHeuristic } from './heuristic.ts';
import { detectHypopg, proveWithHypopg, type HypopgStatus, type ProofOptions, type ProofOutcome } from './hypo.ts';
import { explainGeneric } from './plan.ts';
import { addSuggestion, coveredByExisting, createIndexSql, foldPrefixes, indexName, type IndexSuggestion } from './suggestions.ts';
import { writeMigration, type MigrationReport, type MigrationTarget } from './write-migration.ts';
import { readWriteOverhead } from './write-overhead.ts';

export interface OptimizeOptions extends ProofOptions {
  /** Statements to examine: the top N by total time. */
  limit: number;
  minCalls: number;
  /** false forces the statistics heuristic even when HypoPG is installed (--no-hypopg). */
  useHypopg: boolean;
  apply: boolean;
  writeMigration: Omit<MigrationTarget, 'defaultSchema'> | null;
}

export interface StatementReport {
  queryid: string;
  query: string;
  calls: number;
  meanMs: number;
  outcome: ProofOutcome | 'covered_by_existing' | 'skipped_user_function';
  initialCost: number | null;
  newCost: number | null;
  reduction: number | null;
  indexes: string[];
  error?: string;
}

export interface OptimizeResult {
  database: string;
  server: string;
  statStatements: { version: string | null; columnSet: string | null; statsReset: string | null };
  method: 'hypopg' | 'heuristic';
  confidence: 'high' | 'low';
  hypopg: HypopgStatus & { note: string | null };
  thresholds: { minImprovement: number; minCost: number; minCalls: number; limit: number };
  statementsSeen: number;
  /** The schema unqualified names in the statements resolve to first (--schema), for GRANT hints. */
  statementsSchema: string;
  /**
   * Statements of this database whose text is hidden from this role (no pg_read_all_stats): they cannot be
   * examined, so advice may be missing for them. statements = 0 when the role sees everything.
   */
  hidden: { role: string; readAllStats: boolean; statements: number; totalMs: number; grant: string | null };
  statements: StatementReport[];
  suggestions: IndexSuggestion[];
  staleStatistics: Array<StaleStatistics & { analyzed: boolean; error?: string }>;
  applied: Array<ApplyReport & { verified: boolean | null }> | null;
  migration: MigrationReport | null;
  indexes: IndexReport;
  findings: Finding[];
}

/**
 * Index advice: reads pg_stat_statements, proves candidate indexes (HypoPG, else a statistics heuristic), and with
 * --apply / --write-migration acts on them. Exit code: exitCodeFor(result) (exit-code.ts).
 */
export async function optimize(opts: OptimizeOptions, ctx: ServiceContext): Promise<OptimizeResult> {
  const { config } = ctx;
  const progress = ctx.onProgress ?? (() => {});
  // queryid → the text actually planned (typed-literal parameters repaired), for re-planning after --apply
  const planned = new Map<string, string>();
  const result = await withDiagnosticsClient(config, 'optimize', (client) => examine(client, opts, { schema: config.schema, progress, planned }));
  if (opts.apply && result.suggestions.length > 0) {
    progress({ phase: 'apply' });
    result.applied = await applySuggestions(config, result.suggestions, planned);
  }
  if (opts.writeMigration && result.suggestions.length > 0) {
    result.migration = writeMigration(result.suggestions, { ...opts.writeMigration, defaultSchema: config.schema });
  }
  const catalogFindings = withoutRebuiltInvalid(result.findings, result.applied);
  result.findings = sortFindings([...optimizeFindings(result), ...catalogFindings].filter((f) => !isOwnObjectFinding(f)));
  return result;
}

interface ExamineEnv {
  schema: string;
  progress: ProgressFn;
  planned: Map<string, string>;
}

/** Everything read-only (plus ANALYZE of stale tables with --apply), in the diagnostics session: the result before any action. */
async function examine(client: pg.Client, opts: OptimizeOptions, env: ExamineEnv): Promise<OptimizeResult> {
  const server = await readServerInfo(client);
  const pss = await detectStatStatements(client);
  requireStatStatements(pss);
  const hypopg = await detectHypopg(client);
  const { method, note } = chooseMethod(opts.useHypopg, hypopg);
  // Stale statistics first: with --apply they are refreshed before anything is planned, so costs are real.
  env.progress({ phase: 'statistics' });
  const staleReport = await staleStatisticsReport(client, opts.apply);
  const idx = await inspectIndexes(client, server.statsReset);
  const statements = await readStatements(client, pss, { limit: opts.limit, minCalls: opts.minCalls, orderBy: 'total' });
  const visibility = await readVisibility(client);
  const hiddenStatements = await countHiddenStatements(client, pss);
  const proof: ProofEnv = { opts, method, hypopgSchema: hypopg.schema, indexes: idx.indexes, catalog: new TableCatalog(client), planned: env.planned, suggestions: [] };
  const reports: StatementReport[] = [];
  for (const [i, st] of statements.entries()) {
    env.progress({ phase: 'planning', done: i + 1, total: statements.length, unit: 'items' });
    const report = await proveStatement(client, st, proof);
    if (report) reports.push(report);
  }
  const suggestions = foldPrefixes(proof.suggestions);
  const overhead = await readWriteOverhead(client, suggestions);
  for (const s of suggestions) s.writeOverhead = overhead.get(`${s.schema}\u0000${s.table}`) ?? null;
  return {
    database: server.database, server: server.version,
    statStatements: { version: pss.version, columnSet: pss.columnSet, statsReset: pss.statsReset },
    method, confidence: method === 'hypopg' ? 'high' : 'low', hypopg: { ...hypopg, note },
    thresholds: { minImprovement: opts.minImprovement, minCost: opts.minCost, minCalls: opts.minCalls, limit: opts.limit },
    statementsSeen: statements.length,
    statementsSchema: env.schema,
    hidden: { role: visibility.role, readAllStats: visibility.readAllStats, ...hiddenStatements, grant: visibility.readAllStats ? null : visibility.grant },
    statements: reports, suggestions, staleStatistics: staleReport,
    applied: null, migration: null, indexes: idx.report, findings: idx.findings,
  };
}

/** HypoPG when asked for and created in this database, else the heuristic, with the note saying why. */
export function chooseMethod(useHypopg: boolean, hypopg: Pick<HypopgStatus, 'installed' | 'available'>): { method: OptimizeResult['method']; note: string | null } {
  if (useHypopg && hypopg.installed) return { method: 'hypopg', note: null };
  const note = !useHypopg ? 'HypoPG disabled by --no-hypopg'
    : hypopg.available ? `HypoPG is on the server but not created in this database: CREATE EXTENSION hypopg; for planner-proven advice`
    : 'HypoPG is not installed on the server (Debian: apt-get install postgresql-15-hypopg, then CREATE EXTENSION hypopg;)';
  return { method: 'heuristic', note };
}

/** Tables whose statistics are stale (ours left out); with --apply each is ANALYZEd and the outcome recorded. */
async function staleStatisticsReport(client: pg.Client, apply: boolean): Promise<OptimizeResult['staleStatistics']> {
  const av = await readAutovacuumSettings(client);
  const stale = (await readTableMaintenance(client)).filter((t) => !isOwnTable(t.schema, t.table)).map((t) => staleStatistics(t, av)).filter((s): s is StaleStatistics => s !== null);
  const report: OptimizeResult['staleStatistics'] = [];
  for (const s of stale) {
    if (!apply) { report.push({ ...s, analyzed: false }); continue; }
    const r = await analyzeTable(client, s.schema, s.name);
    report.push({ ...s, analyzed: r.ok, ...(r.error ? { error: r.error } : {}) });
  }
  return report;
}

interface ProofEnv {
  opts: OptimizeOptions;
  method: OptimizeResult['method'];
  hypopgSchema: string | null;
  indexes: IndexInfo[];
  catalog: TableCatalog;
  planned: Map<string, string>;
  /** Collected across statements (folded by prefix afterwards). */
  suggestions: IndexSuggestion[];
}

/**
 * One statement: parsed, its columns resolved, proven; an improving index not covered by an existing one becomes
 * (or strengthens) a suggestion. null for statements there is nothing to say about (utility, catalog-only).
 */
async function proveStatement(client: pg.Client, st: StatementRow, env: ProofEnv): Promise<StatementReport | null> {
  const shape = await parseStatement(st.query);
  if (!shape) return null; // utility statements, several statements, unparsable text
  await env.catalog.load(shape.relations);
  const columns = resolveColumns(shape, (r) => env.catalog.get(r));
  if (!shape.relations.some((r) => env.catalog.get(r))) return null; // catalog-only queries (monitoring, this tool)
  const unsafe = await userDefinedFunctions(client, shape.functions);
  if (unsafe.length > 0) {
    return { queryid: st.queryid, query: st.query, calls: st.calls, meanMs: st.meanMs, outcome: 'skipped_user_function', initialCost: null, newCost: null, reduction: null, indexes: [], error: `calls user-defined function(s) ${unsafe.join(', ')}: planning could run them` };
  }
  env.planned.set(st.queryid, shape.sql);
  const proof = env.method === 'hypopg'
    ? await proveWithHypopg(client, env.hypopgSchema!, shape.sql, columns, env.opts)
    : await proveWithHeuristic(client, shape.sql, columns, env.indexes, env.opts);
  const report: StatementReport = { queryid: st.queryid, query: st.query, calls: st.calls, meanMs: st.meanMs, outcome: proof.outcome, initialCost: proof.initialCost, newCost: proof.newCost, reduction: proof.reduction, indexes: [], ...(proof.error ? { error: proof.error } : {}) };
  if (proof.outcome !== 'improved') return report;
  for (const ix of proof.indexes) {
    const name = indexName(ix.table.name, ix.columns);
    const existing = coveredByExisting({ schema: ix.table.schema, table: ix.table.name, columns: ix.columns }, env.indexes);
    if (existing) { report.outcome = 'covered_by_existing'; report.indexes.push(quoteIdent(existing.name)); continue; }
    report.indexes.push(quoteIdent(name));
    addSuggestion(env.suggestions, ix.table, ix.columns, { queryid: st.queryid, calls: st.calls, initialCost: proof.initialCost, newCost: proof.newCost, reduction: proof.reduction, via: 'planned' }, {
      method: env.method, confidence: env.method === 'hypopg' ? 'high' : 'low', estimatedBytes: ix.bytes, name, sql: createIndexSql(ix.table.schema, ix.table.name, name, ix.columns, quoteIdent),
    });
  }
  return report;
}

/** --apply: builds each suggestion and checks that the real plan of a statement it was proven for now uses it. */
async function applySuggestions(config: AxisorConfig, suggestions: readonly IndexSuggestion[], planned: ReadonlyMap<string, string>): Promise<NonNullable<OptimizeResult['applied']>> {
  return withApplyClient(config, async (client) => {
    const out: NonNullable<OptimizeResult['applied']> = [];
    for (const s of suggestions) {
      const r = await applySuggestion(client, s);
      out.push({ ...r, verified: r.status === 'created' || r.status === 'exists' ? await verifyUsed(client, s, planned, config.schema) : null });
    }
    return out;
  });
}

/** An INVALID leftover that --apply dropped and rebuilt is no longer a problem of this database. */
export function withoutRebuiltInvalid(findings: readonly Finding[], applied: OptimizeResult['applied']): Finding[] {
  const rebuilt = new Set((applied ?? []).filter((a) => a.droppedInvalid && a.status === 'created').map((a) => a.index));
  return findings.filter((f) => !(f.check === 'invalid_index' && f.object && rebuilt.has(f.object)));
}

/** After --apply: does the real generic plan of a statement the index was proven for now name it? */
async function verifyUsed(client: pg.Client, s: IndexSuggestion, planned: ReadonlyMap<string, string>, schema: string): Promise<boolean | null> {
  const sql = planned.get(s.statements.find((b) => b.via === 'planned')?.queryid ?? '');
  if (!sql) return null;
  await client.query(`SELECT set_config('search_path', $1, false)`, [`${quoteIdent(schema)}, public`]);
  try {
    return (await explainGeneric(client, sql)).indexNames.includes(s.name);
  } catch {
    return null;
  }
}

function optimizeFindings(r: OptimizeResult): Finding[] {
  const f: Finding[] = [];
  if (r.hypopg.note) f.push({ check: 'hypopg', severity: 'info', message: `${r.hypopg.note}; suggestions below come from a statistics heuristic (lower confidence)` });
  for (const s of r.suggestions) {
    const applied = r.applied?.find((a) => a.index.endsWith(quoteIdent(s.name)));
    const done = applied && (applied.status === 'created' || applied.status === 'exists');
    const gain = s.reduction === null ? 'estimated by statistics' : `cost -${Math.round(s.reduction * 100)}%`;
    f.push({
      check: 'missing_index', severity: done ? 'info' : applied?.status === 'failed' ? 'critical' : 'warning', object: `${quoteIdent(s.schema)}.${quoteIdent(s.table)}`,
      value: s.reduction === null ? null : Math.round(s.reduction * 1000) / 10, threshold: r.thresholds.minImprovement * 100,
      message: done ? `created ${s.name} (${s.columns.join(', ')}) on ${s.table}: ${gain}` : applied?.status === 'failed' ? `creating ${s.name} failed: ${applied.error}`
        : `index on ${s.table} (${s.columns.join(', ')}) would serve ${s.statements.length} statement(s), ${gain}; run with --apply or --write-migration`,
    });
  }
  for (const s of r.staleStatistics) {
    f.push({ check: 'stale_statistics', severity: s.analyzed ? 'info' : 'warning', object: s.table, value: s.modsSinceAnalyze, threshold: s.threshold,
      message: s.analyzed ? `analyzed ${s.table} (${s.reason.replace(/_/g, ' ')})`
        : `${s.table}: statistics are stale (${s.reason.replace(/_/g, ' ')}, ${s.modsSinceAnalyze} changes); ${s.error ? `not analyzed: ${s.error}` : '--apply runs ANALYZE on it'}` });
  }
  const hidden = hiddenFinding({ role: r.hidden.role, readAllStats: r.hidden.readAllStats, grant: r.hidden.grant ?? '' }, 'hidden_statements', r.hidden.statements, 'statement(s)',
    `their text is '<insufficient privilege>', so they were not examined and indexes they need are not suggested (${Math.round(r.hidden.totalMs)} ms of recorded time)`);
  if (hidden) f.push(hidden);
  for (const st of r.statements) if (st.outcome === 'skipped_user_function') f.push({ check: 'not_planned', severity: 'info', object: `queryid ${st.queryid}`, message: `not planned: ${st.error}` });
  for (const st of r.statements) {
    if (st.outcome !== 'unplannable') continue;
    // EXPLAIN needs SELECT on the tables: a role without it cannot be advised on them, which is a grant, not a bug.
    const fix = /permission denied/i.test(st.error ?? '') ? privilegeFix(st.error!, undefined, { role: r.hidden.role, schema: r.statementsSchema }) : null;
    f.push({ check: fix ? 'not_planned_privilege' : 'unplannable', severity: fix ? 'warning' : 'info', object: `queryid ${st.queryid}`,
      message: `could not plan ${oneLine(st.query)}: ${st.error}${fix ? `; EXPLAIN needs SELECT: as a DBA: ${fix.sql}` : ''}` });
  }
  return f;
}
