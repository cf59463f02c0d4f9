import type { Command } from 'commander';
import { defineAction } from '../src/cli/action.ts';
import type { CliContext } from '../src/cli/context.ts';
import { UsageError } from '../src/errors.ts';
import type { Output } from '../src/render/output.ts';
import { buildRolesSql, type RolesResult } from '../src/roles/sql.ts';

interface Opts {
  printSql?: boolean;
  rolePrefix: string;
  owner?: string[];
}

export function configure(cmd: Command, ctx: CliContext): void {
  cmd
    .description('the least-privilege role for each job (backup, restore, monitor, developer, migrator) as SQL for a DBA; connects to nothing (the database and schema come from --database-url/--dbname/PGDATABASE and --schema)')
    .option('--print-sql', 'print the CREATE ROLE / GRANT script (psql -v ON_ERROR_STOP=1 -f -)')
    .option('--role-prefix <prefix>', 'prefix of the role names', 'axisor_')
    .option('--owner <role...>', 'roles owning restored objects; the restore role becomes a member of each')
    .addHelpText('after', `
Examples:
  axisor-db roles                                  # the roles, their grants and commands
  axisor-db roles --print-sql | psql -v ON_ERROR_STOP=1 -d axisor
  axisor-db roles --print-sql --role-prefix app_ --owner app_owner --json
Set passwords with psql's \\password <role>, or use client certificates (--ssl-cert/--ssl-key).
`);
  defineAction<Opts>(cmd, ctx, async ({ opts, config }) => {
    if (opts.printSql && opts.json) throw new UsageError('--print-sql and --json both write stdout', { hint: 'use one; the JSON document carries the script in result.script' });
    const c = config();
    const result = buildRolesSql({ prefix: opts.rolePrefix, database: c.connection.database, schema: c.schema, owners: opts.owner });
    return { result, render: opts.printSql ? (r: RolesResult, out: Output) => out.print(r.script) : renderRoles };
  });
}

function renderRoles(r: RolesResult, out: Output): void {
  out.print(`Least-privilege roles for database ${r.database}, schema ${r.schema} (axisor-db roles --print-sql prints the script):`);
  for (const role of r.roles) {
    out.print('');
    out.print(`${out.c.bold(role.name)} (${role.job}): ${role.commands.join(', ')}`);
    out.print(`  ${role.why}`);
    for (const line of role.sql.filter((l) => !l.startsWith('--') && !l.startsWith('DO $$'))) out.print(`  ${line}`);
  }
}
