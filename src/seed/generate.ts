import { BinaryCopyEncoder } from './binary-copy.ts';
import { IdFactory } from './ids.ts';
import type { SeedSettings } from './options.ts';
import { planUser, type UserPlan } from './plan.ts';
import { SEED_TABLES, type SeedContext, type SeedTable } from './tables/index.ts';

export const CHUNK_BYTES = 512 * 1024;
const PLAN_CACHE_MAX = 1_000_000;

/** Plans of all users, computed once per run (or on demand for very large runs, to bound memory). */
export function planSource(s: SeedSettings): (u: number) => UserPlan {
  if (s.users > PLAN_CACHE_MAX) return (u) => planUser(s, u);
  const plans = Array.from({ length: s.users }, (_, u) => planUser(s, u));
  return (u) => plans[u]!;
}

export function seedTable(name: string): SeedTable {
  const t = SEED_TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`no seed table ${name}`);
  return t;
}

/**
 * The binary COPY stream of one table, in chunks of about CHUNK_BYTES. `counter.rows` is updated as rows are
 * produced. The same function runs inline or in the generator worker, so both give identical bytes.
 */
export function* tableChunks(table: SeedTable, s: SeedSettings, planOf: (u: number) => UserPlan, counter: { rows: number }): Generator<Buffer> {
  const ctx: SeedContext = { s, ids: new IdFactory(s.seed) };
  const enc = new BinaryCopyEncoder(CHUNK_BYTES + 64 * 1024);
  enc.header();
  for (let u = 0; u < s.users; u++) {
    counter.rows += table.write(enc, planOf(u), ctx);
    if (enc.length >= CHUNK_BYTES) yield enc.take();
  }
  enc.trailer();
  yield enc.take();
}
