import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import { withClient } from '../db/connect.ts';
import { toDatabaseError } from '../db/errors.ts';
import { quoteLiteral } from '../db/ident.ts';
import { PrerequisiteError } from '../errors.ts';
import type { CheckResult } from './report.ts';

/** SQLSTATEs amcheck raises for corruption (XX001 data_corrupted, XX002 index_corrupted). */
const CORRUPTION = new Set(['XX001', 'XX002']);

async function ensureAmcheck(client: pg.Client): Promise<void> {
  const { rows } = await client.query(`SELECT extversion FROM pg_extension WHERE extname = 'amcheck'`);
  if (rows.length) {
    if (!/^1\.[3-9]|^[2-9]/.test(rows[0].extversion)) {
      throw new PrerequisiteError('amcheck_old', `amcheck ${rows[0].extversion} lacks verify_heapam (needs 1.3, PostgreSQL 14+)`, { hint: 'ALTER EXTENSION amcheck UPDATE' });
    }
    return;
  }
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS amcheck');
  } catch (err) {
    const e = toDatabaseError(err);
    throw new PrerequisiteError('amcheck', `--amcheck needs the amcheck extension, and it could not be created: ${e.message}`, {
      hint: 'have a superuser run CREATE EXTENSION amcheck (package postgresql-contrib), or drop --amcheck',
      cause: err,
    });
  }
}

/**
 * Physical checks with amcheck: verify_heapam on every table and bt_index_check (heapallindexed) on every btree
 * index of the schema. bt_index_check takes only AccessShareLock (bt_index_parent_check would block writes).
 * Creates the extension if it is missing (that is the one change --amcheck makes to the database).
 */
export async function runAmcheck(config: AxisorConfig, tables?: string[]): Promise<CheckResult[]> {
  return withClient(config, async (client) => {
    await ensureAmcheck(client);
    const { rows: rels } = await client.query(
      `SELECT c.oid::regclass::text AS rel, c.relname, c.relkind, t.relname AS table_name, am.amname
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
         LEFT JOIN pg_am am ON am.oid = c.relam
        WHERE n.nspname = $1 AND (c.relkind = 'r' OR (c.relkind = 'i' AND am.amname = 'btree'))
        ORDER BY c.relkind DESC, c.relname`,
      [config.schema],
    );
    const results: CheckResult[] = [];
    for (const r of rels) {
      const table = r.relkind === 'r' ? r.relname : r.table_name;
      if (tables?.length && !tables.includes(table)) continue;
      const heap = r.relkind === 'r';
      const sql = heap
        ? `SELECT blkno, offnum, attnum, msg FROM verify_heapam(${quoteLiteral(r.rel)}::regclass)`
        : `SELECT bt_index_check(${quoteLiteral(r.rel)}::regclass, true)`;
      const base = { name: `amcheck:${heap ? 'heap' : 'btree'}:${r.relname}`, table, kind: 'physical' as const, severity: 'error' as const, sql, fixable: false };
      const description = heap ? `heap of ${r.relname} (verify_heapam)` : `btree index ${r.relname} (bt_index_check, heapallindexed)`;
      const started = Date.now();
      try {
        const { rows } = await client.query(heap ? `SELECT count(*) OVER () AS n, blkno, offnum, msg FROM (${sql}) v LIMIT 20` : sql);
        const failures = heap ? Number(rows[0]?.n ?? 0) : 0;
        results.push({ ...base, description, status: failures ? 'fail' : 'pass', failures, samples: rows.map((x) => `block ${x.blkno} offset ${x.offnum}: ${x.msg}`), unitMs: Date.now() - started });
      } catch (err) {
        const e = toDatabaseError(err) as { sqlState?: string; code: string; message: string };
        if (e.sqlState && CORRUPTION.has(e.sqlState)) {
          results.push({ ...base, description, status: 'fail', failures: 1, samples: [e.message], unitMs: Date.now() - started });
        } else {
          results.push({ ...base, description, status: 'error', failures: null, samples: [], unitMs: Date.now() - started, error: { code: e.code, sqlState: e.sqlState, message: e.message } });
        }
      }
    }
    return results;
  }, { applicationName: 'axisor-db validate --amcheck' });
}
