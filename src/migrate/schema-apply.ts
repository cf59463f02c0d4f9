import type pg from 'pg';
import { toDatabaseError } from '../db/errors.ts';
import { withTransaction } from '../db/transaction.ts';
import { DatabaseError } from '../errors.ts';
import type { SchemaMigrationFile } from './files.ts';
import { formatFailureLogs, recordFailed, recordFinished, recordStarted } from './prisma-history.ts';
import { needsNoTransaction, parseStatements, type ParsedStatement } from './sql-parse.ts';

export interface AppliedSchemaMigration {
  name: string;
  checksum: string;
  /** false when the file holds CREATE INDEX CONCURRENTLY (or similar) and ran statement by statement. */
  transactional: boolean;
  statements: number | null;
  durationMs: number;
}

/** How a file will run: one transaction (the default), or statement by statement in autocommit. */
export async function planExecution(file: SchemaMigrationFile): Promise<{ transactional: boolean; statements: ParsedStatement[] | null }> {
  let stmts: ParsedStatement[];
  try {
    stmts = await parseStatements(file.sql);
  } catch {
    // Unparseable here: send it whole in a transaction and let the server report the error with its position.
    return { transactional: true, statements: null };
  }
  return { transactional: !needsNoTransaction(stmts), statements: stmts };
}

/**
 * Applies one migration the way Prisma's engine does, with one change: the script and the "finished" update
 * run inside one explicit transaction, so a failure leaves neither partial schema nor a finished row.
 *   1. INSERT the row (committed, so a crash or failure is visible as "failed").
 *   2. BEGIN; the whole file as one multi-statement simple query; UPDATE applied_steps_count, finished_at; COMMIT.
 *   3. On error: ROLLBACK, then logs = the error (finished_at stays NULL): the next run refuses.
 * A file with CREATE INDEX CONCURRENTLY cannot run in a transaction: its statements run one by one in
 * autocommit (a failure then leaves the statements before it applied; the error says which one failed).
 */
export async function applySchemaMigration(client: pg.Client, schema: string, file: SchemaMigrationFile): Promise<AppliedSchemaMigration> {
  const { transactional, statements } = await planExecution(file);
  const started = Date.now();
  const id = await recordStarted(client, schema, file.name, file.checksum);
  let failedStatement: ParsedStatement | undefined;
  try {
    if (transactional) {
      await withTransaction(client, { mapErrors: false }, async () => {
        await client.query(file.sql);
        await recordFinished(client, schema, id);
      });
    } else {
      for (const s of statements!) {
        failedStatement = s;
        await client.query(s.text);
      }
      failedStatement = undefined;
      await recordFinished(client, schema, id);
    }
  } catch (err) {
    const where = failedStatement ? ` (statement at line ${failedStatement.line}; the statements before it were applied)` : '';
    const logs = formatFailureLogs(file.name, err, failedStatement ? failedStatement.text : file.sql);
    await recordFailed(client, schema, id, logs).catch(() => {});
    const db = toDatabaseError(err);
    throw new DatabaseError(`migration ${file.name} failed${where}: ${db.message}`, {
      sqlState: (db as DatabaseError).sqlState,
      cause: err,
      hint: `fix the migration or the database, then run \`axisor-db migrate resolve --rolled-back ${file.name}\` (to retry it) or \`axisor-db migrate resolve --applied ${file.name}\` (if you applied it by hand)`,
      details: { migration: file.name, transactional, ...(failedStatement ? { line: failedStatement.line } : {}) },
    });
  }
  return { name: file.name, checksum: file.checksum, transactional, statements: statements?.length ?? null, durationMs: Date.now() - started };
}
