import type pg from 'pg';
import { qualifiedName, quoteIdent, quoteLiteral } from '../db/ident.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { rowKeyJson } from '../db/row-key.ts';
import { ensureSchema } from '../db/schema.ts';

export const QUARANTINE_SCHEMA = 'axisor_quarantine';
export const RUNS = `${quoteIdent(QUARANTINE_SCHEMA)}.fix_runs`;
export const ROWS = `${quoteIdent(QUARANTINE_SCHEMA)}.rows`;

type Queryable = pg.Client | pg.PoolClient;

/**
 * The quarantine keeps every row a fix removed or changed as jsonb (to_jsonb of the whole row): one table for
 * all tables, and jsonb_populate_record gives the exact row back on undo. `step` orders the operations of a run,
 * so undo replays them in reverse.
 */
export async function ensureQuarantine(client: Queryable): Promise<void> {
  await ensureSchema(client, QUARANTINE_SCHEMA, 'the fix quarantine, where removed rows are kept for --undo');
  // Existing tables are used as they are: CREATE TABLE IF NOT EXISTS would still need CREATE on the schema.
  if (await quarantineExists(client) && (await client.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [ROWS])).rows[0].ok) return;
  const role = (await client.query(`SELECT current_user AS u`)).rows[0].u as string;
  await mapPrivilege({ role, action: `create the quarantine tables in schema "${QUARANTINE_SCHEMA}"`, alternative: `or, as a DBA: ALTER SCHEMA ${QUARANTINE_SCHEMA} OWNER TO ${quoteIdent(role)};` }, () => createQuarantineTables(client));
}

async function createQuarantineTables(client: Queryable): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${RUNS} (
    run_id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('apply', 'undo')),
    status text NOT NULL CHECK (status IN ('running', 'applied', 'undone', 'done')),
    undo_of uuid REFERENCES ${RUNS} (run_id),
    undone_by uuid,
    db_user text NOT NULL DEFAULT current_user,
    os_user text,
    application_name text DEFAULT current_setting('application_name'),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    checks text[] NOT NULL DEFAULT '{}',
    counts jsonb NOT NULL DEFAULT '{}'
  )`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${ROWS} (
    run_id uuid NOT NULL REFERENCES ${RUNS} (run_id),
    step int NOT NULL,
    check_name text NOT NULL,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    op text NOT NULL CHECK (op IN ('delete', 'update')),
    pk jsonb NOT NULL,
    old_row jsonb NOT NULL,
    new_row jsonb
  )`);
  await client.query(`CREATE INDEX IF NOT EXISTS rows_run_step_idx ON ${ROWS} (run_id, step)`);
  // Rows have no natural key; a replica identity lets incremental backups (logical decoding) capture the table,
  // and lets its UPDATE/DELETE run under a FOR ALL TABLES publication. Insert-only, so FULL costs no extra WAL.
  await client.query(`DO $$ BEGIN
    IF (SELECT relreplident FROM pg_class WHERE oid = ${quoteLiteral(ROWS)}::regclass) = 'd' THEN
      ALTER TABLE ${ROWS} REPLICA IDENTITY FULL;
    END IF; END $$`);
}

export async function quarantineExists(client: Queryable): Promise<boolean> {
  const { rows } = await client.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${quoteIdent(QUARANTINE_SCHEMA)}.fix_runs`]);
  return rows[0].ok;
}

export interface StepContext {
  runId: string;
  check: string;
  schema: string;
  nextStep: () => number;
}

export function pkMatch(pk: string[], a: string, b: string): string {
  return pk.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');
}

/**
 * Deletes the rows of `table` matching `where` (over alias t) and copies each one, whole, into the quarantine
 * in the same statement (DELETE ... RETURNING feeds the INSERT), so exactly what left the table is kept.
 */
export async function quarantineDelete(client: Queryable, ctx: StepContext, table: string, pk: string[], where: string): Promise<number> {
  const step = ctx.nextStep();
  const r = await client.query(
    `WITH d AS (DELETE FROM ${qualifiedName(ctx.schema, table)} t WHERE ${where} RETURNING t.*)
     INSERT INTO ${ROWS} (run_id, step, check_name, table_schema, table_name, op, pk, old_row)
     SELECT $1, $2, $3, $4, $5, 'delete', ${rowKeyJson(pk, 'd')}, to_jsonb(d) FROM d`,
    [ctx.runId, step, ctx.check, ctx.schema, table],
  );
  return r.rowCount ?? 0;
}

/**
 * Updates the rows of `table` matching `where` with `set` (over alias t), keeping the old and the new row.
 * The new row lets undo refuse to overwrite a row someone changed after the fix.
 */
export async function quarantineUpdate(client: Queryable, ctx: StepContext, table: string, pk: string[], where: string, set: string): Promise<number> {
  const step = ctx.nextStep();
  const rel = qualifiedName(ctx.schema, table);
  const r = await client.query(
    `WITH o AS (SELECT ${pk.map((k) => `t.${quoteIdent(k)}`).join(', ')}, to_jsonb(t) AS axisor_old FROM ${rel} t WHERE ${where} FOR UPDATE),
          u AS (UPDATE ${rel} t SET ${set} FROM o WHERE ${pkMatch(pk, 't', 'o')} RETURNING ${rowKeyJson(pk, 't')} AS pk, o.axisor_old, to_jsonb(t) AS axisor_new)
     INSERT INTO ${ROWS} (run_id, step, check_name, table_schema, table_name, op, pk, old_row, new_row)
     SELECT $1, $2, $3, $4, $5, 'update', u.pk, u.axisor_old, u.axisor_new FROM u`,
    [ctx.runId, step, ctx.check, ctx.schema, table],
  );
  return r.rowCount ?? 0;
}
