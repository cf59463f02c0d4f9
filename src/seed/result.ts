import type { SavedObject } from './bulk-load.ts';
import type { SeedOptions, SeedSettings } from './options.ts';

/* The seed's input and result documents (what `seed --json` prints), apart from the service that fills them. */

/** seedDatabase's input: the command's flags (connection, schema, progress and signal come from the ServiceContext). */
export interface SeedInput extends SeedOptions {
  /** Generate rows in worker threads (default: yes when running from the build). */
  threads?: boolean;
}

export interface SeedTableResult {
  table: string;
  rows: number;
  copyMs: number;
  rowsPerSecond: number;
}

export interface SeedResult {
  seed: number;
  /** The id/email prefix of this seed's rows (first group of every id). */
  seedTag: string;
  asOf: string;
  users: number;
  tradesPerUser: number;
  automationsPerUser: number;
  notificationsPerUser: number;
  mode: SeedSettings['mode'];
  /** 'bulk': tables were empty; indexes and foreign keys were dropped, COPY ran, and they were rebuilt. 'constrained': COPY into the full schema. */
  loadPath: 'bulk' | 'constrained';
  truncated: boolean;
  /** Where rows were generated: worker threads (in parallel with the COPY) or inline. */
  generator: 'thread' | 'inline';
  /** How many generator threads (0 = inline). */
  generatorThreads: number;
  tables: SeedTableResult[];
  templatesInserted: number;
  trades: {
    rows: number;
    /** COPY of TradeLog only. */
    copyMs: number;
    copyRowsPerSecond: number;
    /** COPY of TradeLog + rebuilding its own indexes and foreign keys. */
    withRebuildMs: number;
    withRebuildRowsPerSecond: number;
  };
  totalRows: number;
  copyMs: number;
  /** Recreating keys, indexes and foreign keys (bulk path). */
  rebuildMs: number;
  /** Each recreated object and its build time (bulk path). */
  rebuild: Array<{ table: string; name: string; kind: SavedObject['kind']; ms: number }>;
  analyzeMs: number;
  /** Where the time went (milliseconds, wall, unless named otherwise), for --json and the profile in docs/performance.md. */
  phases: SeedPhases;
  /** Whole run: checks, COPY, rebuild, commit, ANALYZE. */
  totalMs: number;
  rowsPerSecond: number;
}

export interface SeedPhases {
  /** Connect, check the tables exist, open the transaction, lock, emptiness check, TRUNCATE, capture and drop of indexes/keys, templates. */
  prepareMs: number;
  /** All COPYs (generation runs in parallel with them). */
  copyMs: number;
  /** Primary keys and unique constraints, then plain indexes, then foreign keys (validated): the bulk path's rebuild. */
  keysMs: number;
  indexesMs: number;
  foreignKeysMs: number;
  commitMs: number;
  /** ANALYZE of every table after the commit, in `analyzeSessions` sessions at once. */
  analyzeMs: number;
  analyzeSessions: number;
  /** CPU time (user + system) of this Node process over the run, all threads (generation included). */
  nodeCpuMs: number;
}
