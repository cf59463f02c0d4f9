import { BinaryCopyEncoder } from './binary-copy.ts';
import { IdFactory } from './ids.ts';
import type { SeedSettings } from './options.ts';
import { planUser, type UserPlan } from './plan.ts';
import { SEED_TABLES, type SeedContext, type SeedTable } from './tables/index.ts';

export const CHUNK_BYTES = 512 * 1024;
const PLAN_CACHE_MAX = 1_000_000;

/**
 * Plans of the users, each computed once per run on first use (a generator thread only computes those of its own
 * blocks); above PLAN_CACHE_MAX users they are recomputed on demand, to bound memory.
 */
export function planSource(s: SeedSettings): (u: number) => UserPlan {
  if (s.users > PLAN_CACHE_MAX) return (u) => planUser(s, u);
  const plans: Array<UserPlan | undefined> = new Array(s.users);
  return (u) => (plans[u] ??= planUser(s, u));
}

export function seedTable(name: string): SeedTable {
  const t = SEED_TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`no seed table ${name}`);
  return t;
}

/**
 * The binary COPY stream of one table, in chunks of about CHUNK_BYTES. `counter.rows` is updated as rows are
 * produced. Same bytes as the concatenation of blockChunk() over all blocks, whatever the block size.
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

/**
 * Block b of a table's COPY stream: the rows of users [b * blockUsers, (b + 1) * blockUsers), with the header
 * before block 0 and the trailer after the last block. A user's rows depend on (seed, user) only, so blocks can be
 * made by different threads and concatenated in order: the bytes equal tableChunks'.
 */
export function blockChunk(table: SeedTable, s: SeedSettings, planOf: (u: number) => UserPlan, ctx: SeedContext, enc: BinaryCopyEncoder,
  b: number, blockUsers: number): { chunk: Buffer; rows: number } {
  const from = b * blockUsers;
  const to = Math.min(s.users, from + blockUsers);
  let rows = 0;
  if (b === 0) enc.header();
  for (let u = from; u < to; u++) rows += table.write(enc, planOf(u), ctx);
  if (to === s.users) enc.trailer();
  return { chunk: enc.take(), rows };
}

/**
 * Users per block so that a block is about CHUNK_BYTES, estimated from the first users' rows (up to 64 of them:
 * some tables have rows for few users, e.g. Payment). Only the chunking depends on it, never the bytes.
 */
export function blockUsersFor(table: SeedTable, s: SeedSettings): number {
  const sample = Math.min(s.users, 64);
  const enc = new BinaryCopyEncoder(1 << 20);
  const ctx = { s, ids: new IdFactory(s.seed) };
  for (let u = 0; u < sample; u++) table.write(enc, planUser(s, u), ctx);
  const perUser = Math.max(1, enc.length / sample);
  return Math.max(1, Math.min(s.users, Math.floor((CHUNK_BYTES * 0.9) / perUser)));
}
