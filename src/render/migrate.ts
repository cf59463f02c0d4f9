import type { Output } from './output.ts';
import { renderKeyValues, renderTable } from './table.ts';
import type { LintResult } from '../migrate/lint/types.ts';
import type { ResolveResult } from '../migrate/resolve.ts';
import type { MigrateUpResult } from '../migrate/runner.ts';
import type { MigrateStatusResult } from '../migrate/status.ts';

/** Human views. Each reads only the result document, so the JSON and the tables never disagree. */

export function renderUp(r: MigrateUpResult, out: Output): void {
  const s = r.schemaMigrations;
  const d = r.dataMigrations;
  if (r.dryRun) {
    out.print(`Dry run against ${r.database} (schema ${r.schema}): nothing was changed.`);
    out.print(s.planned.length
      ? renderTable(['schema migration', 'runs'], s.planned.map((p) => [p.name, p.transactional ? 'in one transaction' : 'statement by statement (CONCURRENTLY)']))
      : 'No pending schema migrations.');
    out.print(d.planned.length
      ? renderTable(['data migration', 'rows to change'], d.planned.map((p) => [`${p.version} ${p.name}`, p.rowsToChange ?? 'after schema migrations']), { colAligns: ['left', 'right'] })
      : 'No pending data migrations.');
    return;
  }
  if (s.applied.length === 0 && d.applied.length === 0) {
    out.print(`Nothing to apply: ${s.alreadyApplied} schema and ${d.alreadyApplied} data migration(s) already applied.`);
    return;
  }
  if (s.applied.length) {
    out.print(renderTable(['schema migration', 'mode', 'ms'], s.applied.map((a) => [a.name, a.transactional ? 'transaction' : 'no transaction', a.durationMs]), { colAligns: ['left', 'left', 'right'] }));
  }
  if (d.applied.length) {
    out.print(renderTable(['data migration', 'rows changed', 'batches', 'ms'], d.applied.map((a) => [`${a.version} ${a.name}`, a.rowsChanged, a.batches, a.durationMs]), { colAligns: ['left', 'right', 'right', 'right'] }));
  }
  out.print(`Applied ${s.applied.length} schema and ${d.applied.length} data migration(s) to ${r.database}${r.lockWaitMs > 1000 ? ` (waited ${Math.round(r.lockWaitMs / 1000)} s for the lock)` : ''}.`);
}

export function renderStatus(r: MigrateStatusResult, out: Output): void {
  out.print(renderKeyValues([['database', r.database], ['schema', r.schema], ['migrations', r.migrationsDir]]));
  if (r.lockHolder) out.print(`A migration run is in progress: pid ${r.lockHolder.pid} (${r.lockHolder.applicationName ?? '?'}), ${r.lockHolder.state ?? '?'}.`);
  const mark = (state: string) => (state === 'applied' ? state : out.c.bold(state));
  out.print(renderTable(['schema migration', 'state', 'finished at'], r.schemaMigrations.map((m) => [m.name, mark(m.state), m.finishedAt ?? (m.startedAt ? `not finished (started ${m.startedAt})` : '')])));
  out.print(renderTable(['data migration', 'state', 'finished at', 'rows', 'ms'], r.dataMigrations.map((m) => [`${m.version} ${m.name}`, mark(m.state), m.finishedAt, m.rowsChanged, m.durationMs]), { colAligns: ['left', 'left', 'left', 'right', 'right'] }));
  for (const m of r.schemaMigrations.filter((x) => x.state === 'failed')) {
    out.print(`${m.name} failed: ${(m.logs ?? '').split('\n').find((l) => l.startsWith('ERROR:')) ?? 'no error recorded'}`);
    out.print(`  resolve with: axisor-db migrate resolve --rolled-back ${m.name}   (or --applied ${m.name})`);
  }
  out.print(r.bits === 0 ? 'Up to date.' : `Status ${r.bits}: ${r.flags.join(', ')}.`);
}

export function renderResolve(r: ResolveResult, out: Output): void {
  if (r.action === 'applied') out.print(`Recorded ${r.name} as applied${r.rolledBack.length ? ` (and its ${r.rolledBack.length} failed attempt(s) as rolled back)` : ''}.`);
  else out.print(`Recorded the failed attempt(s) of ${r.name} as rolled back; the next \`axisor-db migrate\` applies it again.`);
}

export function renderLint(r: LintResult, out: Output): void {
  if (r.findings.length === 0) {
    out.print(`${r.files.length} file(s), ${r.statements} statement(s): no dangerous DDL found.`);
    return;
  }
  out.print(renderTable(['file:line', 'rule', 'severity', 'problem', 'safer way'], r.findings.map((f) => [`${f.file}:${f.line}`, f.rule, f.severity, f.message, f.suggestion])));
  out.print(`${r.errors} error(s), ${r.warnings} warning(s) in ${r.files.length} file(s). Silence one with a comment on the line before the statement: -- axisor-lint-ignore: <rule>`);
}
