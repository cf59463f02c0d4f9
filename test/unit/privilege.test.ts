import { describe, expect, test } from '@jest/globals';
import { ExitCode, PrivilegeError } from '../../src/errors.ts';
import { privilegeFix, privilegeFromToolOutput, toPrivilegeError } from '../../src/db/privilege.ts';

const ctx = { role: 'axisor_monitor', database: 'axisor' };
const err = (message: string, code = '42501', detail?: string) => Object.assign(new Error(message), { code, detail });

describe('privilegeFix: PostgreSQL 15 wording, captured from a real server', () => {
  test.each([
    ['must be superuser or have privileges of pg_read_all_settings to examine "shared_preload_libraries"', undefined, 'GRANT pg_read_all_settings TO axisor_monitor;'],
    ['permission denied for table trades', undefined, 'GRANT SELECT ON TABLE trades TO axisor_monitor;'],
    ['permission denied for schema s', undefined, 'GRANT USAGE ON SCHEMA s TO axisor_monitor;'],
    ['permission denied for database axisor', undefined, 'GRANT CREATE ON DATABASE axisor TO axisor_monitor;'],
    ['permission denied to create database', undefined, 'ALTER ROLE axisor_monitor CREATEDB;'],
    ['must be owner of table t', undefined, 'ALTER TABLE t OWNER TO axisor_monitor;'],
    ['must be superuser or replication role to use replication slots', undefined, 'ALTER ROLE axisor_monitor REPLICATION;'],
    ['must be superuser or replication role to start walsender', undefined, 'ALTER ROLE axisor_monitor REPLICATION;'],
    ['must be member of role "app_owner"', undefined, 'GRANT app_owner TO axisor_monitor;'],
    ['permission denied to set role "postgres"', undefined, 'GRANT postgres TO axisor_monitor;'],
    ['permission denied to set parameter "session_replication_role"', undefined, 'GRANT SET ON PARAMETER session_replication_role TO axisor_monitor;'],
    ['permission denied for sequence trades_id_seq', undefined, 'GRANT USAGE ON SEQUENCE trades_id_seq TO axisor_monitor;'],
    // PG16+ moved the role into the DETAIL
    ['permission denied to examine "output_plugin_libraries"', 'Only roles with privileges of the "pg_read_all_settings" role may examine this parameter.', 'GRANT pg_read_all_settings TO axisor_monitor;'],
  ])('%s', (message, detail, sql) => {
    expect(privilegeFix(message, detail, ctx)?.sql).toBe(sql);
  });

  test('a role name that needs quoting is quoted in the GRANT', () => {
    expect(privilegeFix('permission denied for table t', undefined, { role: 'Ops Team' })?.sql).toBe('GRANT SELECT ON TABLE t TO "Ops Team";');
  });

  test('the caller\'s schema, privilege and action shape the GRANT', () => {
    expect(privilegeFix('permission denied for table t', undefined, { role: 'r', schema: 'App', tablePrivilege: 'INSERT' })?.sql).toBe('GRANT INSERT ON TABLE "App".t TO r;');
    expect(privilegeFix('permission denied for schema public', undefined, { role: 'r', action: 'create the history table' })?.sql).toBe('GRANT CREATE ON SCHEMA public TO r;');
  });

  test('an untrusted extension names the superuser step, not a grant', () => {
    expect(privilegeFix('permission denied to create extension "hypopg"', 'Must be superuser', ctx)?.sql).toBe('CREATE EXTENSION IF NOT EXISTS hypopg; -- as a superuser, in database axisor');
  });

  test('other errors are not privilege problems', () => {
    expect(privilegeFix('relation "t" does not exist', undefined, ctx)).toBeNull();
  });
});

describe('toPrivilegeError', () => {
  test('42501 becomes exit 67 naming the role, the object and the GRANT', () => {
    const e = toPrivilegeError(err('permission denied for table trades'), { ...ctx, action: 'read trades' })!;
    expect(e).toBeInstanceOf(PrivilegeError);
    expect(e.exitCode).toBe(ExitCode.PRIVILEGE);
    expect(e.code).toBe('privilege.table');
    expect(e.message).toContain('role "axisor_monitor"');
    expect(e.message).toContain('table trades');
    expect(e.hint).toContain('GRANT SELECT ON TABLE trades TO axisor_monitor;');
  });

  test('an unknown 42501 wording is still a privilege error, never an internal one', () => {
    const e = toPrivilegeError(err('permission denied to frobnicate'), ctx)!;
    expect(e.exitCode).toBe(67);
    expect(e.code).toBe('privilege.unknown');
  });

  test('non-privilege errors are left alone', () => {
    expect(toPrivilegeError(err('syntax error', '42601'), ctx)).toBeNull();
    expect(toPrivilegeError(new Error('boom'), ctx)).toBeNull();
  });
});

test('privilegeFromToolOutput reads pg_dump/pg_restore stderr', () => {
  const stderr = 'pg_dump: error: query failed: ERROR:  permission denied for table secrets\npg_dump: detail: Query was: LOCK TABLE public.secrets IN ACCESS SHARE MODE\n';
  const e = privilegeFromToolOutput(stderr, { role: 'axisor_backup', schema: 'public' })!;
  expect(e.exitCode).toBe(67);
  expect(e.hint).toContain('GRANT SELECT ON TABLE public.secrets TO axisor_backup;');
  expect(privilegeFromToolOutput('pg_dump: error: connection to server failed', { role: 'r' })).toBeNull();
});

test('a quoted name (the start-up refusal) is unquoted before it goes into the GRANT', () => {
  expect(privilegeFix('permission denied for database "closed"', 'User does not have CONNECT privilege.', { role: 'r' })?.sql).toBe('GRANT CONNECT ON DATABASE closed TO r;');
});
