export type LintSeverity = 'error' | 'warning';

export interface LintFinding {
  file: string;
  /** 1-based line of the statement's first token. */
  line: number;
  rule: string;
  severity: LintSeverity;
  message: string;
  /** The safe variant to use instead. */
  suggestion: string;
  /** The statement, shortened. */
  statement: string;
}

export interface LintResult {
  files: string[];
  statements: number;
  findings: LintFinding[];
  /** Findings silenced by `-- axisor-lint-ignore: <rule>`. */
  ignored: number;
  errors: number;
  warnings: number;
}

/** 0 clean, 1 warnings only, 2 at least one error (as validate). */
export function lintExitCode(r: Pick<LintResult, 'errors' | 'warnings'>): number {
  return r.errors > 0 ? 2 : r.warnings > 0 ? 1 : 0;
}
