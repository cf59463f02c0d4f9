import { describe, expect, test } from '@jest/globals';
import { parseStatement, resolveColumns, type RelationRef, type ResolvedTable } from '../../src/optimize/candidates.ts';
import { estimateRows } from '../../src/optimize/heuristic.ts';
import { summarizePlan } from '../../src/optimize/plan.ts';
import { foldPrefixes, indexName, type IndexSuggestion } from '../../src/optimize/suggestions.ts';
import { addPrismaIndexes, parseModels } from '../../src/optimize/write-migration.ts';

let oid = 1;
const tbl = (name: string, cols: string[], schema = 'public'): ResolvedTable => ({ oid: oid++, schema, name, reltuples: 1000, columns: new Map(cols.map((c) => [c, 'integer'])) });
const catalog = (tables: ResolvedTable[]) => (r: RelationRef) => tables.find((t) => t.name === r.name && (!r.schema || r.schema === t.schema));

async function columnsOf(sql: string, tables: ResolvedTable[]): Promise<string[]> {
  const shape = await parseStatement(sql);
  expect(shape).not.toBeNull();
  return resolveColumns(shape!, catalog(tables)).map((c) => `${c.table.name}.${c.column}:${c.clause}${c.operator ? `:${c.operator}` : ''}`);
}

describe('candidate columns from the parse tree', () => {
  const trade = tbl('TradeLog', ['id', 'user_id', 'executed_at', 'status']);
  const user = tbl('User', ['id', 'email', 'plan_type']);

  test('aliases, quoted names, joins and ORDER BY resolve to real tables', async () => {
    const cols = await columnsOf('SELECT t.* FROM "TradeLog" t JOIN "User" u ON u.id = t.user_id WHERE u.plan_type = $1 AND t.status IN ($2, $3) ORDER BY t.executed_at DESC LIMIT $4', [trade, user]);
    expect(cols.sort()).toEqual(['TradeLog.executed_at:order', 'TradeLog.status:where:IN', 'TradeLog.user_id:join:=', 'User.id:join:=', 'User.plan_type:where:='].sort());
  });

  test('unqualified columns go to the one table in scope that has them; a CTE name is not a table', async () => {
    const cols = await columnsOf('WITH recent AS (SELECT user_id FROM "TradeLog" WHERE executed_at > $1) SELECT email FROM "User" WHERE id IN (SELECT user_id FROM recent) AND plan_type IS NULL', [trade, user]);
    expect(cols.sort()).toEqual(['TradeLog.executed_at:where:>', 'User.id:where:IN', 'User.plan_type:where:IS NULL'].sort());
  });

  test('UPDATE and DELETE targets, and correlated sub-selects', async () => {
    expect(await columnsOf('UPDATE "TradeLog" SET status = $1 WHERE user_id = $2', [trade])).toEqual(['TradeLog.user_id:where:=']);
    expect(await columnsOf('DELETE FROM "User" u WHERE NOT EXISTS (SELECT 1 FROM "TradeLog" t WHERE t.user_id = u.id)', [trade, user]).then((c) => c.sort())).toEqual(['TradeLog.user_id:where:=', 'User.id:where:='].sort());
  });

  test('a column inside a function call is a candidate without an operator', async () => {
    expect(await columnsOf('SELECT * FROM "User" WHERE lower(email) = $1', [user])).toEqual(['User.email:where']);
  });

  test('every called function is listed (a user-defined one must not be planned)', async () => {
    expect((await parseStatement('SELECT lower(email) FROM "User" WHERE id = public.bump($1) AND now() > (SELECT max(created_at) FROM t)'))!.functions).toEqual(['bump', 'lower', 'max', 'now']);
  });

  test('utility statements, several statements and garbage are not planned', async () => {
    expect(await parseStatement('CREATE INDEX ON t (a)')).toBeNull();
    expect(await parseStatement('SELECT 1; SELECT 2')).toBeNull();
    expect(await parseStatement('SELEKT nonsense')).toBeNull();
  });

  test('typed-literal parameters from pg_stat_statements are rewritten as casts so they can be PREPAREd', async () => {
    const shape = await parseStatement(`SELECT 'é' AS x FROM t WHERE a > now() - interval $1 AND b = $2::date AND c = timestamp with time zone $3`);
    expect(shape!.sql).toBe(`SELECT 'é' AS x FROM t WHERE a > now() - $1::interval AND b = $2::date AND c = $3::timestamp with time zone`);
  });
});

describe('suggestions', () => {
  test('index names follow Prisma\'s default and stay within 63 bytes', () => {
    expect(indexName('TradeLog', ['user_id', 'executed_at'])).toBe('TradeLog_user_id_executed_at_idx');
    const long = indexName('a_really_long_table_name_for_testing', ['another_long_column_name', 'and_one_more']);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).toMatch(/_[0-9a-f]{8}_idx$/);
  });

  test('a suggestion that is a prefix of another on the same table is folded into it', () => {
    const s = (columns: string[]): IndexSuggestion => ({ schema: 'public', table: 't', columns, name: columns.join('_'), sql: '', method: 'hypopg', confidence: 'high', reduction: 0.9, estimatedBytes: 1, statements: [{ queryid: columns.join(), calls: 1, initialCost: 1, newCost: 1, reduction: 0.9, via: 'planned' }], writeOverhead: null });
    const folded = foldPrefixes([s(['a']), s(['a', 'b']), s(['b'])]);
    expect(folded.map((x) => x.columns.join())).toEqual(['a,b', 'b']);
    expect(folded[0]!.statements.map((b) => b.via)).toEqual(['planned', 'prefix']);
  });

  test('heuristic row estimates from pg_stats', () => {
    expect(estimateRows(10_000, '=', { nullFrac: 0, nDistinct: 100 })).toBe(100);
    expect(estimateRows(10_000, '=', { nullFrac: 0.5, nDistinct: -0.5 })).toBe(1); // 5 000 distinct
    expect(estimateRows(10_000, 'IS NULL', { nullFrac: 0.01, nDistinct: 10 })).toBe(100);
    expect(estimateRows(10_000, '=', undefined)).toBeNull();
  });

  test('plan summary collects index names and sequential scans', () => {
    const plan = [{ Plan: { 'Node Type': 'Nested Loop', 'Total Cost': 42.5, Plans: [{ 'Node Type': 'Seq Scan', 'Relation Name': 'a' }, { 'Node Type': 'Index Scan', 'Index Name': '<1>btree_b_x', 'Relation Name': 'b' }] } }];
    expect(summarizePlan(plan)).toEqual({ totalCost: 42.5, indexNames: ['<1>btree_b_x'], seqScans: ['a'] });
  });
});

describe('schema.prisma edits', () => {
  const schema = [
    'model TradeLog {',
    '  id          String @id',
    '  userId      String @map("user_id")',
    '  executed_at DateTime',
    '  // a comment with } in it',
    '  @@index([executed_at])',
    '}',
    '',
    'model Weird {',
    '  id     Int @id',
    '  oddCol Int @map("odd col")',
    '  @@map("we\\"ird tbl")',
    '}',
    '',
  ].join('\n');
  const sug = (table: string, columns: string[], name = `${table}_${columns.join('_')}_idx`): IndexSuggestion => ({ schema: 'public', table, columns, name, sql: '', method: 'hypopg', confidence: 'high', reduction: 0.9, estimatedBytes: null, statements: [], writeOverhead: null });

  test('models map to tables by @@map or name, columns to fields by @map or name', () => {
    const models = parseModels(schema);
    expect(models.map((m) => [m.name, m.table])).toEqual([['TradeLog', 'TradeLog'], ['Weird', 'we"ird tbl']]);
    expect(models[0]!.fields.get('user_id')).toBe('userId');
    expect(models[1]!.fields.get('odd col')).toBe('oddCol');
  });

  test('adds @@index inside the right model, with map: only when the name is not Prisma\'s default', () => {
    const r = addPrismaIndexes(schema, [sug('TradeLog', ['user_id', 'executed_at']), sug('we"ird tbl', ['odd col'], 'custom_name')]);
    expect(r.added).toEqual([{ model: 'TradeLog', line: '@@index([userId, executed_at])' }, { model: 'Weird', line: '@@index([oddCol], map: "custom_name")' }]);
    const lines = r.text.split('\n');
    expect(lines[6]).toBe('  @@index([userId, executed_at])');
    expect(lines[7]).toBe('}');
    expect(lines.indexOf('  @@index([oddCol], map: "custom_name")')).toBe(lines.lastIndexOf('}') - 1);
  });

  test('an index already in the model, or a table without a model, is skipped with a reason', () => {
    const r = addPrismaIndexes(schema, [sug('TradeLog', ['executed_at']), sug('Nope', ['x'])]);
    expect(r.added).toEqual([]);
    expect(r.skipped).toHaveLength(2);
    expect(r.text).toBe(schema);
  });
});
