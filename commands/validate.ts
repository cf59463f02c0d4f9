import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { intFlag, prismaSchemaOption, prismaSchemaSpec } from '../src/cli/options.ts';
import { renderTable } from '../src/render/table.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export interface ValidateFlags {
  check?: string[];
  table?: string[];
  samples?: string;
  jobs?: string;
  prismaSchema?: string;
  amcheck?: boolean;
  list?: boolean;
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .description('data-integrity checks derived from the schema: every FK / Prisma relation, plus the business rules')
    .option('--check <name>', 'run only this check (repeatable; a trailing * matches a prefix, e.g. orphan:*)', collect)
    .option('--table <table>', 'run only the checks on this table (repeatable)', collect)
    .option('--samples <n>', 'sample primary keys per failing check', '5')
    .option('--jobs <n>', 'parallel connections sharing one exported snapshot', '2')
    .addOption(prismaSchemaOption())
    .option('--amcheck', 'also run amcheck: verify_heapam on tables, bt_index_check on btree indexes (creates the extension if missing)')
    .option('--list', 'list the checks and their SQL; run nothing');
  cmd.addHelpText('after', '\nResult: 0 all checks pass, 1 warnings only, 2 errors found; 71 if a check could not run (e.g. --statement-timeout).\n');
  defineAction<ValidateFlags>(cmd, ctx, async ({ opts, out, config }) => {
    const cfg = config();
    const prismaSchema = prismaSchemaSpec(opts.prismaSchema, cfg, ctx.cwd);
    const samples = intFlag(opts.samples ?? '5', '--samples', { min: 0, max: 10000 });
    const jobs = intFlag(opts.jobs ?? '2', '--jobs', { max: 64 });
    // Imported when the action runs, not for --help (start-up time).
    const [{ withClient }, { buildChecks, selectChecks, validateDatabase }, { exitCodeFor }, { renderValidate }] = await Promise.all([
      import('../src/db/connect.ts'), import('../src/validate/service.ts'), import('../src/validate/report.ts'), import('../src/render/validate.ts')]);
    if (opts.list) {
      const set = await withClient(cfg, (c) => buildChecks(c, cfg.schema, prismaSchema));
      const checks = selectChecks(set.checks, { checks: opts.check, tables: opts.table })
        .map((c) => ({ name: c.name, table: c.table, kind: c.kind, severity: c.severity, fixable: c.fix !== undefined, description: c.description, sql: c.sql }));
      return {
        result: { checks, skipped: set.skipped, uncheckedRelations: set.uncheckedRelations },
        render: (r, o) => o.print(renderTable(['check', 'table', 'severity', 'fix', 'description'], r.checks.map((c: typeof checks[0]) => [c.name, c.table, c.severity, c.fixable ? 'yes' : '', c.description]))),
      };
    }
    const progress = await out.progress();
    try {
      const report = await validateDatabase({ checks: opts.check, tables: opts.table, samples, jobs, prismaSchema, amcheck: opts.amcheck },
        { config: cfg, env: ctx.env, signal: ctx.signal, onProgress: progress.report });
      return { result: report, exitCode: exitCodeFor(report), render: renderValidate };
    } finally {
      progress.stop();
    }
  });
}
