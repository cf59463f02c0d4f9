import { expect, test } from '@jest/globals';
import { buildsIndex, checksAfterIndexes, lonePostDataSql, postDataCost, postDataSettings } from '../../src/restore/work.ts';
import { nextTask, runTasks } from '../../src/tasks.ts';
import { locksConflict, planPostData, postDataLock, serialStreams, withRanks, type LockMode, type Task } from '../../src/restore/schedule.ts';
import { keyColumns, splitPostDataScript } from '../../src/restore/post-data.ts';

// `pg_restore -l -v` of a seeded schema (pg_dump 15.20), cut down: two tables, their keys and indexes, a comment on
// an index, a foreign key, and a partitioned index attachment the plan must leave to pg_restore.
const VERBOSE = `;
; Selected TOC Entries:
;
215; 1259 20106 TABLE public User postgres
221; 1259 20199 TABLE public TradeLog postgres
3375; 2606 20819 CONSTRAINT public TradeLog TradeLog_pkey postgres
;	depends on: 221
3351; 2606 20821 CONSTRAINT public User User_pkey postgres
;	depends on: 215
3377; 1259 21152 INDEX public TradeLog_user_id_executed_at_idx postgres
;	depends on: 221 221
3378; 0 0 COMMENT public INDEX TradeLog_user_id_executed_at_idx postgres
;	depends on: 3377
3349; 1259 21162 INDEX public User_email_key postgres
;	depends on: 215
3390; 0 0 INDEX ATTACH public p_1_idx postgres
;	depends on: 3349
3413; 2606 21248 FK CONSTRAINT public TradeLog TradeLog_user_id_fkey postgres
;	depends on: 215 221 3351
`;
const LIST = VERBOSE.split('\n').filter((l) => !l.startsWith(';\t') && !/FK CONSTRAINT/.test(l)).join('\n');
const TABLES = [
  { schema: 'public', name: 'User', objects: [20106, 20821, 21162] },
  { schema: 'public', name: 'TradeLog', objects: [20199, 20819, 21152] },
];

test('planPostData: indexes and non-FK constraints by table (catalog OIDs), comments with their object, the rest in order', () => {
  const plan = planPostData(VERBOSE, LIST, TABLES);
  expect(plan.items).toEqual([
    { table: 'public.TradeLog', ids: [3375], desc: 'CONSTRAINT', label: 'CONSTRAINT public.TradeLog TradeLog_pkey', exclusive: true },
    { table: 'public.User', ids: [3351], desc: 'CONSTRAINT', label: 'CONSTRAINT public.User User_pkey', exclusive: true },
    { table: 'public.TradeLog', ids: [3377, 3378], desc: 'INDEX', label: 'INDEX public.TradeLog_user_id_executed_at_idx', exclusive: false },
    { table: 'public.User', ids: [3349], desc: 'INDEX', label: 'INDEX public.User_email_key', exclusive: false },
  ]);
  // Tables themselves (pre-data), the attachment (two tables' indexes), the header comments: pg_restore's, in order.
  expect(plan.rest.split('\n').filter((l) => /^\d+;/.test(l)).map((l) => l.split(';')[0])).toEqual(['215', '221', '3390']);
  // A table not restored (--table) has no items: its OIDs are not in the tables given.
  expect(planPostData(VERBOSE, LIST, TABLES.slice(0, 1)).items.map((i) => i.table)).toEqual(['public.User', 'public.User']);
});

const t = (id: string, deps: string[], locks: Array<[string, LockMode]>, weight: number): Task => ({ id, deps, locks: locks.map(([table, mode]) => ({ table, mode })), weight });
const AE = 'AccessExclusive';

test('locksConflict as nextTask\'s policy: dependencies done, no lock conflict with what runs (PostgreSQL\'s table)', () => {
  const dataBig = t('data:big', [], [['b', AE]], 100);
  const dataSmall = t('data:small', [], [['s', AE]], 10);
  const idx1 = t('idx:big:1', ['data:big'], [['b', postDataLock('INDEX')]], 100);
  const idx2 = t('idx:big:2', ['data:big'], [['b', postDataLock('INDEX')]], 100);
  const pk = t('pk:big', ['data:big', 'idx:big:1'], [['b', postDataLock('CONSTRAINT')]], 100);
  const fk = t('fk:big->small', ['data:big', 'data:small', 'pk:big'], [['b', 'ShareRowExclusive'], ['s', 'ShareRowExclusive']], 100);
  const fkv = t('fkv:big->small', ['fk:big->small'], [['b', 'ShareUpdateExclusive'], ['s', 'RowShare']], 100);
  const next = (pending: Task[], done: string[], running: Task[]) => nextTask(pending, new Set(done), running, locksConflict)?.id ?? null;
  // Two tables' loads together; the indexes wait for their table's rows.
  expect(next([idx1, dataSmall], [], [dataBig])).toBe('data:small');
  // Two index builds of one table together (SHARE); the ALTER TABLE not while one runs.
  const loaded = ['data:big', 'data:small'];
  expect(next([idx1, pk], loaded, [idx2])).toBe('idx:big:1');
  expect(next([pk], [...loaded, 'idx:big:1'], [idx2])).toBeNull();
  expect(next([pk], [...loaded, 'idx:big:1'], [])).toBe('pk:big');
  // Adding a foreign key locks both tables: not while an index of the referenced one builds; validating it only
  // takes ROW SHARE there (next to index builds), but SHARE UPDATE EXCLUSIVE on its own table (not next to one).
  const idxSmall = t('idx:small', [], [['s', 'Share']], 1);
  expect(next([fk], [...loaded, 'pk:big'], [idxSmall])).toBeNull();
  expect(next([fkv], [...loaded, 'fk:big->small'], [idxSmall])).toBe('fkv:big->small');
  expect(next([fkv], [...loaded, 'fk:big->small'], [idx2])).toBeNull();
  expect(next([fkv], [...loaded, 'fk:big->small'], [t('pk:small', [], [['s', AE]], 1)])).toBeNull();
  // The conflict table is symmetric, whichever task is asked about.
  expect(locksConflict(idxSmall, fk)).toBe(true);
  expect(locksConflict(fk, idxSmall)).toBe(true);
});

test('runTasks with locksConflict: dependencies and lock conflicts respected under the limit', async () => {
  const tasks = [
    t('a', [], [['x', AE]], 3), t('b', [], [['y', 'RowExclusive']], 2), t('c', ['a'], [['x', 'Share']], 5), t('d', ['a'], [['x', 'Share']], 5),
    t('e', ['c', 'd'], [['x', AE], ['y', AE]], 1),
  ];
  const log: string[] = [];
  let peak = 0;
  await runTasks(tasks, 2, async (task, running) => {
    peak = Math.max(peak, running.length);
    // Never two running tasks whose locks conflict.
    for (const r of running) if (r !== task) expect(locksConflict(task, r)).toBe(false);
    log.push(`start ${task.id}`);
    // b outlasts c and d: e (ACCESS EXCLUSIVE on y) waits for b's ROW EXCLUSIVE, not only for its dependencies.
    await new Promise((r) => setTimeout(r, task.id === 'b' ? 40 : 5));
    log.push(`end ${task.id}`);
  }, { conflicts: locksConflict });
  expect(peak).toBe(2);
  for (const [before, after] of [['end a', 'start c'], ['end a', 'start d'], ['end c', 'start e'], ['end d', 'start e'], ['end b', 'start e']]) {
    expect(log.indexOf(before)).toBeLessThan(log.indexOf(after));
  }
});

test('splitPostDataScript: one batch per item with the session settings before it; null when blocks do not match', () => {
  const plan = planPostData(VERBOSE, LIST, TABLES);
  const block = (name: string, type: string, sql: string) => `\n--\n-- Name: ${name}; Type: ${type}; Schema: public; Owner: postgres\n--\n\n${sql}\n\n`;
  const script = `--\n-- PostgreSQL database dump\n--\n\n\\restrict k\n\nSET client_encoding = 'UTF8';\nSELECT pg_catalog.set_config('search_path', '', false);\n\nSET default_tablespace = '';\n`
    + block('TradeLog TradeLog_pkey', 'CONSTRAINT', 'ALTER TABLE ONLY public."TradeLog"\n    ADD CONSTRAINT "TradeLog_pkey" PRIMARY KEY (id);')
    + block('User User_pkey', 'CONSTRAINT', 'ALTER TABLE ONLY public."User"\n    ADD CONSTRAINT "User_pkey" PRIMARY KEY (id);\n\n\nSET default_tablespace = fast;')
    + block('TradeLog_user_id_executed_at_idx', 'INDEX', 'CREATE INDEX "TradeLog_user_id_executed_at_idx" ON public."TradeLog" USING btree (user_id, executed_at);')
    + block('INDEX "TradeLog_user_id_executed_at_idx"', 'COMMENT', 'COMMENT ON INDEX public."TradeLog_user_id_executed_at_idx" IS \'x\';\n\n\nSET default_tablespace = \'\';')
    + block('User_email_key', 'INDEX', 'CREATE UNIQUE INDEX "User_email_key" ON public."User" USING btree (email);\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k\n');
  const out = splitPostDataScript(script, plan.items)!;
  expect(out.map((o) => o.label)).toEqual(plan.items.map((i) => i.label));
  expect(out[0]!.sql).toContain("SELECT pg_catalog.set_config('search_path', '', false);");
  expect(out[0]!.sql).not.toMatch(/client_encoding|\\restrict/);
  expect(out[0]!.sql).toContain("SET default_tablespace = '';");
  // The index after User_pkey's block inherits the tablespace set there, with its comment in the same batch.
  expect(out[2]!.sql).toContain('SET default_tablespace = fast;');
  expect(out[2]!.sql).toContain('COMMENT ON INDEX');
  expect(out[3]!.sql).toContain("SET default_tablespace = '';");
  expect(out[3]!.sql).not.toContain('unrestrict');
  // A block of another type than the item's, or a missing one: null (post-data then goes through pg_restore).
  expect(splitPostDataScript(script.replace('Type: INDEX', 'Type: TRIGGER'), plan.items)).toBeNull();
  expect(splitPostDataScript(script, [...plan.items, plan.items[0]!])).toBeNull();
});

test('serialStreams: every split table loads in one FREEZE transaction (its rows in order), unless AXISOR_RESTORE_SPLIT=parallel', () => {
  const tables = [{ key: 'a', streams: 2 }, { key: 'b', streams: 1 }, { key: 'c', streams: 3 }];
  expect([...serialStreams(tables, undefined)]).toEqual(['a', 'c']);
  expect([...serialStreams(tables, 'serial')]).toEqual(['a', 'c']);
  expect([...serialStreams(tables, 'parallel')]).toEqual([]);
  expect([...serialStreams([{ key: 'b', streams: 1 }], undefined)]).toEqual([]);
});

test('withRanks: cost plus the heaviest dependent, so what the big table\'s chain waits for comes first', () => {
  const tasks = withRanks([
    { id: 'data:big', deps: [], locks: [], cost: 100 },
    { id: 'data:ref', deps: [], locks: [], cost: 5 },
    { id: 'data:leaf', deps: [], locks: [], cost: 20 },
    { id: 'pk:ref', deps: ['data:ref'], locks: [], cost: 1 },
    { id: 'idx:big', deps: ['data:big'], locks: [], cost: 12 },
    { id: 'fk:big', deps: ['idx:big', 'pk:ref'], locks: [], cost: 4 },
  ]);
  expect(Object.fromEntries(tasks.map((t) => [t.id, t.weight]))).toEqual({ 'data:big': 116, 'data:ref': 10, 'data:leaf': 20, 'pk:ref': 5, 'idx:big': 16, 'fk:big': 4 });
  expect(() => withRanks([{ id: 'a', deps: ['b'], locks: [], cost: 1 }, { id: 'b', deps: ['a'], locks: [], cost: 1 }])).toThrow(/cycle/);
});

test('keyColumns: the columns an index or key sorts on, for its estimated cost', () => {
  expect(keyColumns('CREATE INDEX "TradeLog_user_id_executed_at_idx" ON public."TradeLog" USING btree (user_id, executed_at);')).toBe(2);
  expect(keyColumns('ALTER TABLE ONLY public."TradeLog"\n    ADD CONSTRAINT "TradeLog_pkey" PRIMARY KEY (id);')).toBe(1);
  expect(keyColumns('CREATE UNIQUE INDEX u ON public.t USING btree (lower((a)::text), "b,c") INCLUDE (d);')).toBe(2);
  expect(keyColumns('CREATE TRIGGER x AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();')).toBe(1);
});

test('postDataSettings: the restore sessions size maintenance_work_mem and, with --jobs 2 or more, start no parallel maintenance workers', () => {
  expect(postDataSettings(512, 2)).toEqual([['maintenance_work_mem', '512MB'], ['synchronous_commit', 'off'], ['max_parallel_maintenance_workers', '0']]);
  expect(postDataSettings(1024, 1)).toEqual([['maintenance_work_mem', '1024MB'], ['synchronous_commit', 'off']]);
});

test('buildsIndex and lonePostDataSql: an index build given the idle sessions as parallel workers, then none again', () => {
  const pk = { desc: 'CONSTRAINT', sql: 'ALTER TABLE ONLY public."TradeLog"\n    ADD CONSTRAINT "TradeLog_pkey" PRIMARY KEY (id);' };
  const idx = { desc: 'INDEX', sql: 'CREATE INDEX "T_u_idx" ON public."TradeLog" USING btree (user_id);' };
  const check = { desc: 'CONSTRAINT', sql: 'ALTER TABLE public.t\n    ADD CONSTRAINT "UNIQUE" CHECK ((a > 0)) NOT VALID;' };
  const trigger = { desc: 'TRIGGER', sql: 'CREATE TRIGGER x AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();' };
  expect([pk, idx, check, trigger].map(buildsIndex)).toEqual([true, true, false, false]);
  expect(buildsIndex({ desc: 'CONSTRAINT', sql: 'ALTER TABLE ONLY public.t\n    ADD CONSTRAINT "a b" UNIQUE (a);' })).toBe(true);
  expect(buildsIndex({ desc: 'CONSTRAINT', sql: 'ALTER TABLE ONLY public.t\n    ADD CONSTRAINT x EXCLUDE USING gist (r WITH &&);' })).toBe(true);
  expect(lonePostDataSql(pk, 1, 2)).toBe(`SET max_parallel_maintenance_workers = 1;\n${pk.sql}\nSET max_parallel_maintenance_workers = 0;`);
  expect(lonePostDataSql(idx, 3, 4)).toMatch(/^SET max_parallel_maintenance_workers = 3;\n/);
  // No idle session, --jobs 1 (the server's own default applies then), or no index built: the statements as they are.
  expect(lonePostDataSql(idx, 0, 2)).toBe(idx.sql);
  expect(lonePostDataSql(idx, 1, 1)).toBe(idx.sql);
  expect(lonePostDataSql(check, 1, 2)).toBe(check.sql);
  expect(lonePostDataSql(trigger, 1, 2)).toBe(trigger.sql);
});

test('postDataCost: index builds cost by their key columns; a NOT VALID CHECK is a catalog change like a trigger', () => {
  const pk = { desc: 'CONSTRAINT', sql: 'ALTER TABLE ONLY public."TradeLog"\n    ADD CONSTRAINT "TradeLog_pkey" PRIMARY KEY (id);' };
  const idx2 = { desc: 'INDEX', sql: 'CREATE INDEX "T_u_e_idx" ON public."TradeLog" USING btree (user_id, executed_at);' };
  const check = { desc: 'CONSTRAINT', sql: 'ALTER TABLE public.t\n    ADD CONSTRAINT c CHECK ((a > 0)) NOT VALID;' };
  const trigger = { desc: 'TRIGGER', sql: 'CREATE TRIGGER x AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();' };
  const bytes = 1e9;
  expect(postDataCost(pk, bytes)).toBeCloseTo(0.12e9);
  expect(postDataCost(idx2, bytes)).toBeCloseTo(0.18e9);
  expect(postDataCost(check, bytes)).toBe(postDataCost(trigger, bytes));
  expect(postDataCost(check, bytes)).toBeLessThan(postDataCost(pk, bytes) / 100);
});

test('checksAfterIndexes: the keys of a table nothing references validate after its indexes; a referenced table\'s keys do not wait', () => {
  const items = [
    { desc: 'CONSTRAINT', table: 'public.TradeLog', label: 'CONSTRAINT public.TradeLog_pkey' },
    { desc: 'INDEX', table: 'public.TradeLog', label: 'INDEX public.TradeLog_user_id_idx' },
    { desc: 'INDEX', table: 'public.Notification', label: 'INDEX public.Notification_user_id_idx' },
    { desc: 'INDEX', table: 'public.NotificationDelivery', label: 'INDEX public.NotificationDelivery_n_idx' },
  ];
  const work = () => [
    { id: 'fk:0:0', deps: ['data:public.TradeLog'] }, { id: 'fkv:0:0', deps: ['fk:0:0'] },
    { id: 'fk:1:0', deps: ['data:public.Notification'] }, { id: 'fkv:1:0', deps: ['fk:1:0'] },
    { id: 'fk:2:0', deps: ['data:public.NotificationDelivery'] }, { id: 'fkv:2:0', deps: ['fk:2:0'] },
  ];
  const fks = [{ ref: 'public.User' }, { ref: 'public.User' }, { ref: 'public.Notification' }];
  const tableOfCheck = new Map([['fkv:0:0', 'public.TradeLog'], ['fkv:1:0', 'public.Notification'], ['fkv:2:0', 'public.NotificationDelivery']]);
  const w = work();
  checksAfterIndexes({ post: { items, restHasWork: false }, work: w }, fks, tableOfCheck);
  const deps = Object.fromEntries(w.map((x) => [x.id, x.deps]));
  expect(deps['fk:0:0']).toEqual(['data:public.TradeLog', 'post:1:INDEX public.TradeLog_user_id_idx']);
  expect(deps['fkv:0:0']).toEqual(['fk:0:0', 'post:1:INDEX public.TradeLog_user_id_idx']);
  expect(deps['fkv:2:0']).toEqual(['fk:2:0', 'post:3:INDEX public.NotificationDelivery_n_idx']);
  // Notification is referenced (by NotificationDelivery's key): its own key does not wait for its indexes.
  expect(deps['fkv:1:0']).toEqual(['fk:1:0']);
  // A key whose referenced table is unknown, or the rest of post-data to run first: nothing changes (no cycle).
  for (const [post, f] of [[{ items, restHasWork: true }, fks], [{ items, restHasWork: false }, [...fks, { ref: null }]], [null, fks]] as const) {
    const v = work();
    checksAfterIndexes({ post, work: v }, f, tableOfCheck);
    expect(v).toEqual(work());
  }
});
