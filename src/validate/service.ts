import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { withClient } from '../db/connect.ts';
import type { ServiceContext } from '../service.ts';
import { ConfigError, NotFoundError, UsageError } from '../errors.ts';
import { loadCatalog, uncheckableRelations, type Catalog } from './catalog.ts';
import { relationshipChecks, type Check } from './checks.ts';
import { parsePrismaSchema, type PrismaSchemaInfo } from './prisma-schema.ts';
import { summarize, type CheckResult, type ValidateReport } from './report.ts';
import { ruleChecks, type SkippedRule } from './rules.ts';
import { runChecks } from './runner.ts';
import { runAmcheck } from './amcheck.ts';

export interface CheckSelection {
  /** Check names; a trailing `*` matches a prefix (`orphan:*`). */
  checks?: string[];
  tables?: string[];
}

export interface ValidateOptions extends CheckSelection {
  samples: number;
  jobs: number;
  /** schema.prisma to read relations from; `required` makes a missing file an error. */
  prismaSchema?: { path: string; required: boolean };
  amcheck?: boolean;
}

export interface CheckSet {
  catalog: Catalog;
  checks: Check[];
  skipped: SkippedRule[];
  uncheckedRelations: string[];
  prismaPath: string | null;
}

export function readPrismaSchema(spec: ValidateOptions['prismaSchema']): { info?: PrismaSchemaInfo; path: string | null } {
  if (!spec) return { path: null };
  let text: string;
  try {
    text = readFileSync(spec.path, 'utf8');
  } catch (err) {
    if (!spec.required && (err as NodeJS.ErrnoException).code === 'ENOENT') return { path: null };
    throw new ConfigError('prisma_schema', `cannot read ${spec.path}: ${(err as Error).message}`, { hint: 'point --prisma-schema at a readable schema.prisma (default: prisma/schema.prisma next to the migrations)' });
  }
  try {
    return { info: parsePrismaSchema(text), path: spec.path };
  } catch (err) {
    throw new ConfigError('prisma_schema', `${spec.path}: ${(err as Error).message}`, { hint: 'fix the schema (npx prisma validate) or point --prisma-schema elsewhere' });
  }
}

/** Every check the schema implies: one relationship check per relation, plus the rules whose columns exist. */
export async function buildChecks(client: pg.Client, schema: string, prismaSpec: ValidateOptions['prismaSchema']): Promise<CheckSet> {
  const prisma = readPrismaSchema(prismaSpec);
  // A mistyped --schema used to skip every check and exit 0: nothing checked must never read as "all passed".
  const { rows: [found] } = await client.query<{ db: string; schemas: string[]; exists: boolean }>(
    `SELECT current_database() AS db, $1::text IN (SELECT nspname FROM pg_namespace) AS exists,
            ARRAY(SELECT nspname::text FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1) AS schemas`, [schema]);
  if (!found!.exists) {
    throw new NotFoundError('schema', `schema "${schema}" does not exist in database "${found!.db}"`, {
      hint: `pass --schema with the schema holding the Axisor tables (this database has: ${found!.schemas.join(', ') || 'none'})`,
    });
  }
  const catalog = await loadCatalog(client, schema, prisma.info);
  const rules = ruleChecks(catalog);
  const unchecked = uncheckableRelations(prisma.info?.relations ?? [], catalog.tables).map((r) => `${r.model}.${r.field} (${r.childTable} -> ${r.parentTable})`);
  const checks = [...relationshipChecks(catalog), ...rules.checks];
  if (checks.length === 0) {
    throw new NotFoundError('axisor_tables', `nothing to check in schema "${schema}" of database "${found!.db}": it has none of the Axisor tables`, {
      hint: 'run `axisor-db migrate` first, or pass --schema with the schema holding the Axisor tables',
    });
  }
  return { catalog, checks, skipped: rules.skipped, uncheckedRelations: unchecked, prismaPath: prisma.path };
}

/** Applies --check / --table. An unknown check or table is a usage error listing what exists. */
export function selectChecks(all: Check[], sel: CheckSelection): Check[] {
  let picked = all;
  if (sel.checks?.length) {
    const matchers = sel.checks.map((n) => {
      const m = n.endsWith('*') ? (c: Check) => c.name.startsWith(n.slice(0, -1)) : (c: Check) => c.name === n;
      if (!all.some(m)) throw new UsageError(`no check named '${n}'`, { hint: `run axisor-db validate --list to see the ${all.length} checks` });
      return m;
    });
    picked = picked.filter((c) => matchers.some((m) => m(c)));
  }
  if (sel.tables?.length) {
    for (const t of sel.tables) {
      if (!all.some((c) => c.table === t)) throw new UsageError(`no check on table '${t}'`, { hint: `tables with checks: ${[...new Set(all.map((c) => c.table))].join(', ')}` });
    }
    picked = picked.filter((c) => sel.tables!.includes(c.table));
  }
  return picked;
}

/** Builds the checks the schema implies, runs the selected ones in one snapshot; the command's exit code is exitCodeFor(report). */
export async function validateDatabase(opts: ValidateOptions, ctx: ServiceContext): Promise<ValidateReport> {
  const { config } = ctx;
  const started = Date.now();
  const set = await withClient(config, (c) => buildChecks(c, config.schema, opts.prismaSchema), { applicationName: 'axisor-db validate' });
  const selected = selectChecks(set.checks, opts);
  const run = await runChecks(config, selected, { samples: opts.samples, jobs: opts.jobs, signal: ctx.signal, onProgress: ctx.onProgress, applicationName: 'axisor-db validate' });
  const results: CheckResult[] = [...run.results];
  if (opts.amcheck) results.push(...await runAmcheck(config, opts.tables));
  const summary = summarize(results);
  const report: ValidateReport = {
    database: config.connection.redactedUrl,
    schema: config.schema,
    snapshotAt: run.snapshotAt,
    jobs: opts.jobs,
    prismaSchema: set.prismaPath,
    checks: results,
    skipped: set.skipped,
    uncheckedRelations: set.uncheckedRelations,
    summary,
    durationMs: Date.now() - started,
  };
  return report;
}
