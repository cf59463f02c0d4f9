import type { ParsedStatement } from '../sql-parse.ts';
import type { LintSeverity } from './types.ts';

export interface RuleHit {
  rule: string;
  severity: LintSeverity;
  message: string;
  suggestion: string;
}

/** Rule ids and what they catch (README and --help list these). */
export const LINT_RULES: ReadonlyArray<readonly [string, LintSeverity, string]> = [
  ['create-index-non-concurrent', 'error', 'CREATE INDEX without CONCURRENTLY on an existing table (blocks writes while it builds)'],
  ['add-column-not-null-no-default', 'error', 'ADD COLUMN ... NOT NULL without a DEFAULT (fails on a table with rows)'],
  ['alter-column-type', 'error', 'ALTER COLUMN ... TYPE (rewrites the table under an ACCESS EXCLUSIVE lock)'],
  ['add-constraint-not-valid', 'error', 'ADD CONSTRAINT FOREIGN KEY/CHECK without NOT VALID (scans the table under lock)'],
  ['set-not-null', 'error', 'ALTER COLUMN ... SET NOT NULL on an existing table (full scan under ACCESS EXCLUSIVE)'],
  ['drop-column', 'error', 'DROP COLUMN (data loss; running app versions still read it)'],
  ['drop-table', 'error', 'DROP TABLE (data loss; running app versions still use it)'],
  ['rename-table', 'error', 'RENAME of a table (breaks the running app version)'],
  ['rename-column', 'error', 'RENAME of a column (breaks the running app version)'],
  ['concurrent-in-transaction', 'error', 'CREATE INDEX CONCURRENTLY inside an explicit BEGIN ... COMMIT (always fails)'],
  ['concurrent-index-mixed', 'warning', 'CONCURRENTLY mixed with other statements in one file (prisma migrate deploy fails on it; a failure midway leaves the earlier statements applied)'],
];

/** Tables whose state makes a rule moot: created earlier in this lint run, or absent from the database. */
export interface TableScope {
  isNew(name: string): boolean;
}

const rel = (r: any): string => r?.relname ?? '?';
const short = (s: string) => (s.length > 100 ? `${s.slice(0, 97)}...` : s).replace(/\s+/g, ' ');

/** All rule hits for one statement. Pure: the AST in, hits out. */
export function checkStatement(s: ParsedStatement, tables: TableScope): RuleHit[] {
  const n = s.node[s.kind];
  const hits: RuleHit[] = [];
  switch (s.kind) {
    case 'IndexStmt': {
      if (!n.concurrent && !tables.isNew(rel(n.relation))) {
        hits.push({
          rule: 'create-index-non-concurrent', severity: 'error',
          message: `CREATE INDEX on existing table "${rel(n.relation)}" blocks writes to it until the index is built`,
          suggestion: `${short(s.text.replace(/^CREATE\s+(UNIQUE\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?/i, (_m, u = '') => `CREATE ${u.toUpperCase()}INDEX CONCURRENTLY IF NOT EXISTS `))}; -- in its own migration file (run outside a transaction)`,
        });
      }
      break;
    }
    case 'AlterTableStmt': {
      const table = rel(n.relation);
      if (tables.isNew(table)) break;
      for (const c of n.cmds ?? []) hits.push(...checkAlterCmd(table, c.AlterTableCmd ?? {}));
      break;
    }
    case 'DropStmt': {
      if (n.removeType !== 'OBJECT_TABLE') break;
      for (const o of n.objects ?? []) {
        const parts = (o.List?.items ?? []).map((i: any) => i.String?.sval);
        const table = parts.at(-1) ?? '?';
        if (tables.isNew(table)) continue;
        hits.push({
          rule: 'drop-table', severity: 'error',
          message: `DROP TABLE "${table}" deletes its data, and app versions still running use it`,
          suggestion: 'first deploy an app version that no longer uses the table (remove the model), then drop it in a later migration; take a backup before',
        });
      }
      break;
    }
    case 'RenameStmt': {
      const table = rel(n.relation);
      if (tables.isNew(table)) break;
      if (n.renameType === 'OBJECT_TABLE') {
        hits.push({
          rule: 'rename-table', severity: 'error',
          message: `renaming table "${table}" to "${n.newname}" breaks every running app version that uses the old name`,
          suggestion: `expand/contract: create "${n.newname}" (or a view named "${n.newname}"), write to both, move readers, then drop the old name later (or keep the table name and use @@map in Prisma)`,
        });
      } else if (n.renameType === 'OBJECT_COLUMN') {
        hits.push({
          rule: 'rename-column', severity: 'error',
          message: `renaming column "${table}"."${n.subname}" to "${n.newname}" breaks every running app version that uses the old name`,
          suggestion: `expand/contract: add "${n.newname}", write to both, backfill in batches, switch readers, drop "${n.subname}" later (or keep the column and use @map in Prisma)`,
        });
      }
      break;
    }
  }
  return hits;
}

function checkAlterCmd(table: string, c: any): RuleHit[] {
  switch (c.subtype) {
    case 'AT_AddColumn': {
      const col = c.def?.ColumnDef ?? {};
      const kinds = new Set((col.constraints ?? []).map((k: any) => k.Constraint?.contype));
      if (kinds.has('CONSTR_NOTNULL') && !kinds.has('CONSTR_DEFAULT') && !kinds.has('CONSTR_IDENTITY') && !kinds.has('CONSTR_GENERATED')) {
        return [{
          rule: 'add-column-not-null-no-default', severity: 'error',
          message: `ADD COLUMN "${col.colname}" NOT NULL without a DEFAULT fails as soon as "${table}" has a row`,
          suggestion: `ALTER TABLE "${table}" ADD COLUMN "${col.colname}" ... NOT NULL DEFAULT <constant> (no rewrite since PG 11); or add it nullable, backfill in batches, then SET NOT NULL via a NOT VALID CHECK`,
        }];
      }
      return [];
    }
    case 'AT_AlterColumnType':
      return [{
        rule: 'alter-column-type', severity: 'error',
        message: `ALTER COLUMN "${c.name}" TYPE rewrites "${table}" and its indexes under an ACCESS EXCLUSIVE lock (reads and writes wait)`,
        suggestion: `add a new column of the new type, backfill it in batches (axisor-db data migration), switch the app, then drop "${c.name}" later`,
      }];
    case 'AT_AddConstraint': {
      const k = c.def?.Constraint ?? {};
      if ((k.contype === 'CONSTR_FOREIGN' || k.contype === 'CONSTR_CHECK') && !k.skip_validation) {
        const name = k.conname ?? '<name>';
        return [{
          rule: 'add-constraint-not-valid', severity: 'error',
          message: `ADD CONSTRAINT ${k.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK'} on "${table}" scans every row while holding a lock that blocks writes`,
          suggestion: `ALTER TABLE "${table}" ADD CONSTRAINT "${name}" ... NOT VALID; then in a later migration: ALTER TABLE "${table}" VALIDATE CONSTRAINT "${name}";`,
        }];
      }
      return [];
    }
    case 'AT_SetNotNull':
      return [{
        rule: 'set-not-null', severity: 'error',
        message: `SET NOT NULL on "${table}"."${c.name}" scans the whole table under an ACCESS EXCLUSIVE lock`,
        suggestion: `ADD CONSTRAINT "${table}_${c.name}_not_null" CHECK ("${c.name}" IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT it; then SET NOT NULL (PG 12+ uses the check, no scan) and drop the check`,
      }];
    case 'AT_DropColumn':
      return [{
        rule: 'drop-column', severity: 'error',
        message: `DROP COLUMN "${table}"."${c.name}" deletes its data, and app versions still running select it`,
        suggestion: `first deploy an app version that no longer reads "${c.name}" (remove it from schema.prisma), then drop it in a later migration`,
      }];
    default:
      return [];
  }
}
