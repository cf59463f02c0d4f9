import { displayIdent } from '../db/ident.ts';
import { UsageError } from '../errors.ts';

/** backup/slots.ts's CREATE_PUBLICATION_SQL, not imported: `roles` loads no database driver (test/unit/tls-roles). */
export const BACKUP_PUBLICATION_SQL = 'CREATE PUBLICATION axisor_backup FOR ALL TABLES';

/**
 * The documented least-privilege roles, one per job, as SQL a DBA runs once (README, section Roles; printed by
 * `axisor-db roles --print-sql`). The integration tests run exactly this script and then every command under
 * each role, so the README cannot promise a grant set that does not work. PostgreSQL 15+ (pg_read_all_data,
 * pg_monitor, the PG15 default of no CREATE on schema public).
 */
export interface RolesOptions {
  /** Prefix of every role name (default axisor_). */
  prefix: string;
  /** The application database. */
  database: string;
  /** The schema holding the Axisor tables; the migrator becomes its owner. */
  schema: string;
  /** Roles owning objects a restore must recreate with their owner (restore is granted membership of them). */
  owners?: string[];
}

export type RoleJob = 'backup' | 'restore' | 'monitor' | 'developer' | 'migrator';

export interface RoleSpec {
  job: RoleJob;
  name: string;
  /** The commands this role is meant for. */
  commands: string[];
  /** What each grant is for, in a sentence. */
  why: string;
  /** Statements, in order; comments start with "--". */
  sql: string[];
}

export interface RolesResult {
  database: string;
  schema: string;
  prefix: string;
  roles: RoleSpec[];
  /** The quarantine schema fix writes to: created once by a DBA for the migrator. */
  quarantineSchema: string;
  /** The whole script, ready for psql -v ON_ERROR_STOP=1 -f -. */
  script: string;
}

export const QUARANTINE_SCHEMA_NAME = 'axisor_quarantine';

export function roleName(prefix: string, job: RoleJob): string {
  return `${prefix}${job}`;
}

export function buildRolesSql(opts: RolesOptions): RolesResult {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.prefix) || opts.prefix.length > 40) {
    throw new UsageError(`--role-prefix '${opts.prefix}' must be letters, digits and _ (at most 40), starting with a letter or _`, { hint: 'e.g. --role-prefix axisor_' });
  }
  const db = displayIdent(opts.database);
  const schema = displayIdent(opts.schema);
  const n = (job: RoleJob) => displayIdent(roleName(opts.prefix, job));
  const connect = (job: RoleJob) => `GRANT CONNECT ON DATABASE ${db} TO ${n(job)};`;
  const roles: RoleSpec[] = [
    {
      job: 'backup', name: roleName(opts.prefix, 'backup'),
      commands: ['backup', 'backup status', 'backup list', 'backup verify --no-drill'],
      why: 'REPLICATION creates the logical slot and the exported snapshot; pg_read_all_data lets pg_dump read every table without owning it',
      sql: [
        `CREATE ROLE ${n('backup')} LOGIN REPLICATION;`,
        `GRANT pg_read_all_data TO ${n('backup')};`,
        connect('backup'),
        '-- pg_hba.conf also needs a line for its replication connections, e.g.:',
        `--   hostssl ${opts.database} ${roleName(opts.prefix, 'backup')} 10.0.0.0/8 scram-sha-256`,
        '-- incremental backups decode through a publication only a superuser may create (FOR ALL TABLES); once every',
        '-- table has a primary key or replica identity (or UPDATE/DELETE on the others would fail), run in the database:',
        `--   ${BACKUP_PUBLICATION_SQL};`,
      ],
    },
    {
      job: 'restore', name: roleName(opts.prefix, 'restore'),
      commands: ['restore --target-db NEW (--no-owner)', 'backup verify (the drill)'],
      why: 'CREATEDB makes the target and drill databases; SET on session_replication_role replays incrementals; membership of the owning roles keeps owners (otherwise use --no-owner)',
      sql: [
        `CREATE ROLE ${n('restore')} LOGIN CREATEDB;`,
        '-- replaying incremental changes runs with session_replication_role = replica (triggers and FKs do not fire twice)',
        `GRANT SET ON PARAMETER session_replication_role TO ${n('restore')};`,
        ...(opts.owners?.length ? opts.owners.map((o) => `GRANT ${displayIdent(o)} TO ${n('restore')};`)
          : [`-- to restore with the original owners: GRANT <owner role> TO ${n('restore')};`]),
        '-- extensions that need a superuser (pg_stat_statements, hypopg) are skipped by a restore under this role;',
        '-- create them once in the target as a superuser if the restored database needs them.',
      ],
    },
    {
      job: 'monitor', name: roleName(opts.prefix, 'monitor'),
      commands: ['debug-pool', 'debug-perf'],
      why: 'pg_monitor = pg_read_all_settings + pg_read_all_stats + pg_stat_scan_tables: every session, every statement, every setting; no table data',
      sql: [
        `CREATE ROLE ${n('monitor')} LOGIN;`,
        `GRANT pg_monitor TO ${n('monitor')};`,
        connect('monitor'),
      ],
    },
    {
      job: 'developer', name: roleName(opts.prefix, 'developer'),
      commands: ['validate', 'optimize', 'debug-perf', 'debug-pool', 'migrate status'],
      why: 'SELECT on the application tables (validate and EXPLAIN read them); without pg_read_all_stats other sessions and statements are hidden, and the commands say so',
      sql: [
        `CREATE ROLE ${n('developer')} LOGIN;`,
        connect('developer'),
        `GRANT USAGE ON SCHEMA ${schema} TO ${n('developer')};`,
        `GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${n('developer')};`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${n('migrator')} IN SCHEMA ${schema} GRANT SELECT ON TABLES TO ${n('developer')};`,
        `-- optional: see other sessions (debug-pool) and everyone's statements (optimize): GRANT pg_read_all_stats TO ${n('developer')};`,
      ],
    },
    {
      job: 'migrator', name: roleName(opts.prefix, 'migrator'),
      commands: ['migrate', 'migrate resolve', 'fix', 'fix --apply', 'fix --undo', 'optimize --apply'],
      why: 'the owner of the schema and its tables: DDL, ANALYZE and CREATE INDEX need ownership; no CREATE on the database is needed once the quarantine schema exists',
      sql: [
        `CREATE ROLE ${n('migrator')} LOGIN;`,
        connect('migrator'),
        `ALTER SCHEMA ${schema} OWNER TO ${n('migrator')};`,
        '-- hand over the existing tables, sequences and views of the schema',
        `DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
           WHERE s.nspname = ${literal(opts.schema)} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i') AND d.classid = 'pg_class'::regclass AND c.relkind = 'S')
  LOOP
    EXECUTE format('ALTER %s %I.%I OWNER TO %I', CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                   ${literal(opts.schema)}, r.relname, ${literal(roleName(opts.prefix, 'migrator'))});
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace s ON s.oid = t.typnamespace
           WHERE s.nspname = ${literal(opts.schema)} AND t.typtype IN ('e', 'd')
  LOOP
    EXECUTE format('ALTER TYPE %I.%I OWNER TO %I', ${literal(opts.schema)}, r.typname, ${literal(roleName(opts.prefix, 'migrator'))});
  END LOOP;
END $$;`,
        `-- fix keeps removed rows in ${QUARANTINE_SCHEMA_NAME}; created once here, so the migrator needs no CREATE on the database`,
        `CREATE SCHEMA IF NOT EXISTS ${QUARANTINE_SCHEMA_NAME} AUTHORIZATION ${n('migrator')};`,
      ],
    },
  ];
  const script = [
    `-- axisor-db least-privilege roles for database ${opts.database}, schema ${opts.schema} (PostgreSQL 15+).`,
    '-- Run once as a superuser: psql -v ON_ERROR_STOP=1 -d <database> -f roles.sql',
    '-- Set passwords interactively (psql: \\password <role>) or use client certificates; never put them in a script.',
    '-- The migrator comes first: the developer\'s default privileges name it.',
    '',
    ...['migrator', 'backup', 'restore', 'monitor', 'developer'].flatMap((job) => {
      const r = roles.find((x) => x.job === job)!;
      return [`-- ${r.job}: ${r.commands.join(', ')}`, `-- ${r.why}`, ...r.sql, ''];
    }),
  ].join('\n');
  return { database: opts.database, schema: opts.schema, prefix: opts.prefix, roles, quarantineSchema: QUARANTINE_SCHEMA_NAME, script };
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
