import { nonTransactional, parseStatements, SqlParseError, type ParsedStatement } from '../sql-parse.ts';
import { checkStatement, type RuleHit } from './rules.ts';
import type { LintFinding, LintResult } from './types.ts';

export interface LintSource {
  /** As shown in findings (relative path). */
  file: string;
  sql: string;
}

export interface LintOptions {
  /**
   * Tables that exist in the target database. When given, a table missing from it counts as new (an earlier
   * pending migration creates it, empty). When absent (offline `lint FILE`), every table not created earlier
   * in the linted files is assumed to exist and hold data.
   */
  existingTables?: Set<string>;
}

const IGNORE = /^axisor-lint-ignore(?::\s*(.*))?$/i;

/** Rules silenced by `-- axisor-lint-ignore: rule-a, rule-b` (or every rule, with no list) right before the statement. */
export function ignoredRules(s: ParsedStatement): Set<string> | 'all' {
  const rules = new Set<string>();
  for (const c of s.leadingComments) {
    const m = IGNORE.exec(c.trim());
    if (!m) continue;
    if (!m[1]?.trim()) return 'all';
    for (const r of m[1].split(/[\s,]+/)) if (r) rules.add(r.toLowerCase());
  }
  return rules;
}

/** Lints files in order; a table created by an earlier statement or file counts as new (and empty) afterwards. */
export async function lintSources(sources: LintSource[], opts: LintOptions = {}): Promise<LintResult> {
  const created = new Set<string>();
  const tables = { isNew: (name: string) => created.has(name) || (opts.existingTables !== undefined && !opts.existingTables.has(name)) };
  const findings: LintFinding[] = [];
  let statements = 0;
  let ignored = 0;
  for (const src of sources) {
    let stmts: ParsedStatement[];
    try {
      stmts = await parseStatements(src.sql);
    } catch (err) {
      const e = err as SqlParseError;
      findings.push({ file: src.file, line: e.line ?? 1, rule: 'parse-error', severity: 'error', message: `not valid PostgreSQL: ${e.message}`, suggestion: 'fix the syntax (the server would reject it too)', statement: '' });
      continue;
    }
    statements += stmts.length;
    const hasNonTx = stmts.some(nonTransactional);
    const explicitTx = stmts.some((s) => s.kind === 'TransactionStmt');
    for (const s of stmts) {
      const hits: RuleHit[] = checkStatement(s, tables);
      if (nonTransactional(s)) {
        if (explicitTx) {
          hits.push({ rule: 'concurrent-in-transaction', severity: 'error', message: 'this statement cannot run inside the BEGIN ... COMMIT block of this file', suggestion: 'remove BEGIN/COMMIT from the file and keep the statement in a migration of its own' });
        } else if (stmts.length > 1 && hasNonTx) {
          hits.push({ rule: 'concurrent-index-mixed', severity: 'warning', message: 'file mixes a statement that cannot run in a transaction with others: prisma migrate deploy fails on it, and axisor-db must run it statement by statement (a failure midway leaves the earlier ones applied)', suggestion: 'put each CONCURRENTLY statement in a migration file of its own' });
        }
      }
      const skip = ignoredRules(s);
      for (const h of hits) {
        if (skip === 'all' || skip.has(h.rule)) {
          ignored++;
          continue;
        }
        findings.push({ file: src.file, line: s.line, ...h, statement: s.text.replace(/\s+/g, ' ').slice(0, 160) });
      }
      if (s.kind === 'CreateStmt' || s.kind === 'CreateTableAsStmt') {
        const r = s.node[s.kind].relation ?? s.node[s.kind].into?.rel;
        if (r?.relname) created.add(r.relname);
      }
    }
  }
  return {
    files: sources.map((s) => s.file),
    statements,
    findings,
    ignored,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
  };
}
