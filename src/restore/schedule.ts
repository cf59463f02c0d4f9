import type { Task as RunnableTask } from '../tasks.ts';
import { parseTocVerbose, type TocEntry } from './toc.ts';

/**
 * Post-data work of one table, as pg_restore -j splits it: one index, constraint, trigger or policy (with the
 * comments on it), run as soon as that table's rows are loaded instead of after every table's data.
 */
export interface PostDataItem {
  /** `schema.table` the item belongs to (by the catalog OIDs the manifest recorded for the table). */
  table: string;
  /** TOC entry ids, the object first and then the comments/labels that depend on it, in list order. */
  ids: number[];
  /** The entry's type: INDEX, CONSTRAINT, TRIGGER, POLICY. */
  desc: string;
  /** A readable name for messages: `INDEX public.TradeLog_user_id_idx`. */
  label: string;
  /**
   * CREATE INDEX takes SHARE on its table (two builds of one table can run at once, as pg_restore -j does);
   * ALTER TABLE ... ADD CONSTRAINT, CREATE TRIGGER and CREATE POLICY take locks that conflict with it (pg_restore's
   * identify_locking_dependencies): they run alone on their table, in TOC order with the others (postDataLock).
   */
  exclusive: boolean;
}

export interface PostDataPlan {
  /** Per-table items, in TOC order. */
  items: PostDataItem[];
  /** The list lines that are no table's item (pre-data, foreign tables, partitioned indexes, rules, ...): restored after all items. */
  rest: string;
}

/** The post-data entry types that belong to one table and are scheduled per table. */
const PER_TABLE = new Set(['INDEX', 'CONSTRAINT', 'TRIGGER', 'POLICY']);
/** Entries that go with the object they depend on (they print after it in the archive). */
const ATTACHED = new Set(['COMMENT', 'SECURITY LABEL']);

/**
 * Splits a pg_restore -L list (without foreign keys: see splitForeignKeys) into per-table post-data items and
 * the rest. `verbose` is the archive's `pg_restore -l -v` (entries with their dependencies); an entry is a
 * table's item when its catalog OID is one the manifest recorded for that table (indexes, non-FK constraints,
 * triggers, policies) and its type is one of PER_TABLE; comments and security labels on it go with it.
 * Everything else stays in `rest`, in its order, so the dependency order inside it is pg_restore's.
 */
export function planPostData(verbose: string, list: string, tables: ReadonlyArray<{ schema: string; name: string; objects: number[] }>): PostDataPlan {
  const byId = new Map<number, TocEntry>(parseTocVerbose(verbose).map((e) => [e.id, e]));
  const tableOfOid = new Map<number, string>();
  for (const t of tables) for (const o of t.objects.slice(1)) tableOfOid.set(Number(o), `${t.schema}.${t.name}`);
  const items: PostDataItem[] = [];
  const itemOfId = new Map<number, PostDataItem>();
  const rest: string[] = [];
  for (const line of list.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) /.exec(line);
    if (!m) {
      if (line !== '') rest.push(line);
      continue;
    }
    const id = Number(m[1]);
    const e = byId.get(id);
    const table = tableOfOid.get(Number(m[3]));
    if (e && table && PER_TABLE.has(e.desc)) {
      const item: PostDataItem = { table, ids: [id], desc: e.desc, label: label(e), exclusive: e.desc !== 'INDEX' };
      items.push(item);
      itemOfId.set(id, item);
      continue;
    }
    const owner = e && ATTACHED.has(e.desc) && e.deps.length > 0 ? e.deps.map((d) => itemOfId.get(d)) : [];
    if (owner.length > 0 && owner.every((o) => o !== undefined && o === owner[0])) {
      owner[0]!.ids.push(id);
      itemOfId.set(id, owner[0]!);
      continue;
    }
    rest.push(line);
  }
  return { items, rest: `${rest.join('\n')}\n` };
}

function label(e: TocEntry): string {
  const parts = e.rest.split(' ');
  const [schema, ...name] = parts.length > 2 ? parts.slice(0, -1) : parts;
  return `${e.desc} ${schema}.${name.join(' ')}`;
}

/** PostgreSQL's table lock modes a restore task takes (the server's own; the scheduler only avoids waiting on them). */
export type LockMode = 'RowShare' | 'RowExclusive' | 'ShareUpdateExclusive' | 'Share' | 'ShareRowExclusive' | 'AccessExclusive';

/** PostgreSQL's conflict table (docs: Explicit Locking, table-level lock modes), for the modes above. */
const CONFLICTS: Record<LockMode, readonly LockMode[]> = {
  RowShare: ['AccessExclusive'],
  RowExclusive: ['Share', 'ShareRowExclusive', 'AccessExclusive'],
  ShareUpdateExclusive: ['ShareUpdateExclusive', 'Share', 'ShareRowExclusive', 'AccessExclusive'],
  Share: ['RowExclusive', 'ShareUpdateExclusive', 'ShareRowExclusive', 'AccessExclusive'],
  ShareRowExclusive: ['RowExclusive', 'ShareUpdateExclusive', 'Share', 'ShareRowExclusive', 'AccessExclusive'],
  AccessExclusive: ['RowShare', 'RowExclusive', 'ShareUpdateExclusive', 'Share', 'ShareRowExclusive', 'AccessExclusive'],
};

/** The lock a post-data item's statement takes on its table: CREATE INDEX SHARE, CREATE TRIGGER SHARE ROW EXCLUSIVE, ALTER TABLE ... ADD CONSTRAINT and CREATE POLICY ACCESS EXCLUSIVE. */
export function postDataLock(desc: string): LockMode {
  return desc === 'INDEX' ? 'Share' : desc === 'TRIGGER' ? 'ShareRowExclusive' : 'AccessExclusive';
}

/** A lock a task takes on a table. */
export interface TaskLock {
  table: string;
  mode: LockMode;
}

/** One unit of restore work: a data stream, a post-data item, a foreign key. */
export interface Task extends RunnableTask {
  /** Tasks that must have finished first. */
  deps: string[];
  locks: TaskLock[];
  /** Larger first among the runnable ones: see withRanks. */
  weight: number;
}

/**
 * Whether two restore tasks take locks on one table that conflict (PostgreSQL's table): runTasks's `conflicts`,
 * so neither starts while the other runs, since it would only wait on the server.
 */
export function locksConflict(a: Task, b: Task): boolean {
  return a.locks.some((l) => b.locks.some((bl) => bl.table === l.table && CONFLICTS[l.mode].includes(bl.mode)));
}

/**
 * Weights for list scheduling by critical path (upward rank): a task's estimated cost plus the largest weight of
 * the tasks that depend on it. So a small table the big table's foreign keys reference loads and gets its key
 * early (the big table's key chain waits for it), while tables nothing waits for fill the sessions when the big
 * table's work cannot use them (its foreign keys validate one at a time, an ALTER TABLE runs alone).
 */
export function withRanks<T extends Omit<Task, 'weight'> & { cost: number }>(tasks: readonly T[]): Array<T & { weight: number }> {
  const dependents = new Map<string, T[]>();
  for (const t of tasks) for (const d of t.deps) dependents.set(d, [...(dependents.get(d) ?? []), t]);
  const rank = new Map<string, number>();
  const visiting = new Set<string>();
  const rankOf = (t: T): number => {
    const known = rank.get(t.id);
    if (known !== undefined) return known;
    if (visiting.has(t.id)) throw new Error(`internal: restore tasks form a dependency cycle at ${t.id}`);
    visiting.add(t.id);
    const r = t.cost + Math.max(0, ...(dependents.get(t.id) ?? []).map(rankOf));
    visiting.delete(t.id);
    rank.set(t.id, r);
    return r;
  };
  return tasks.map((t) => Object.assign(t, { weight: rankOf(t) }));
}

/**
 * Which tables split over several streams are loaded by one session, the streams one after the other in one
 * COPY FREEZE transaction: all of them, unless AXISOR_RESTORE_SPLIT=parallel (for measurements). Loading a table's
 * streams in parallel interleaves their pages, so the restored heap loses the source's row order: its index
 * builds sort unsorted input (35 % more CPU for TradeLog's (user_id, executed_at) on seeded data), its
 * correlation statistics change, and the streams cannot use FREEZE. Measured on the 5M-trade seeded database
 * (docs/performance.md): parallel 35.4 s and 62.9 CPU-s, serial 32.8 s and 55.4 CPU-s, same run.
 */
export function serialStreams(tables: ReadonlyArray<{ key: string; streams: number }>, mode: string | undefined): Set<string> {
  if (mode === 'parallel') return new Set();
  return new Set(tables.filter((t) => t.streams > 1).map((t) => t.key));
}
