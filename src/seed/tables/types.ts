import type { BinaryCopyEncoder } from '../binary-copy.ts';
import type { IdFactory } from '../ids.ts';
import type { SeedSettings } from '../options.ts';
import type { UserPlan } from '../plan.ts';

export interface SeedContext {
  s: SeedSettings;
  ids: IdFactory;
}

/** One table the generator fills: its COPY column list and the rows belonging to one user. */
export interface SeedTable {
  name: string;
  columns: readonly string[];
  /** Writes user u's rows (columns in `columns` order); returns how many. */
  write(enc: BinaryCopyEncoder, plan: UserPlan, ctx: SeedContext): number;
}
