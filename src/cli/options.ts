import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseDuration, parsePositiveInt } from '../config/duration.ts';
import type { AxisorConfig } from '../config/types.ts';
import { UsageError } from '../errors.ts';

/** Shared flags, declared once and attached in groups (see node-pg-migrate's options.ts). */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--database-url <url>', 'postgres://user:password@host:port/db (default: DATABASE_URL, then PG* variables)'))
    .addOption(new Option('--host <host>', 'server host or socket directory (PGHOST; overrides --database-url)'))
    .addOption(new Option('--port <port>', 'server port (PGPORT; overrides --database-url)'))
    .addOption(new Option('--dbname <name>', 'database name (PGDATABASE; overrides --database-url)'))
    .addOption(new Option('--user <name>', 'user name (PGUSER; overrides --database-url)'))
    .addOption(new Option('--ssl-mode <mode>', 'disable | prefer | require | verify-ca | verify-full (PGSSLMODE)'))
    .addOption(new Option('--ssl-root-cert <file>', 'CA certificate; verify-ca/verify-full need it, and with it require verifies the chain too, as libpq (PGSSLROOTCERT)'))
    .addOption(new Option('--ssl-cert <file>', 'client certificate for certificate authentication (PGSSLCERT)'))
    .addOption(new Option('--ssl-key <file>', 'private key of --ssl-cert; 0600, or 0640 if owned by root, as libpq (PGSSLKEY)'))
    .addOption(new Option('--schema <name>', 'schema holding the Axisor tables (default: public)'))
    .addOption(new Option('--statement-timeout <duration>', 'statement_timeout for the tool\'s queries, e.g. 30s (0 = none)'))
    .addOption(new Option('--config <file>', 'config file (default: ./axisor-db.config.json, or AXISOR_CONFIG)'));
}

export function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'print one versioned JSON document on stdout, nothing else')
    .option('-q, --quiet', 'print nothing on success (for cron); errors still go to stderr')
    .option('-v, --verbose', 'more detail, tool output and stack traces')
    .option('--no-color', 'no colour (also NO_COLOR)');
}

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
}

/**
 * --lock-timeout, declared once for the commands that offer it (`.addOption(lockTimeoutOption(...))`); `what` says
 * what it bounds there. src/config resolves it with AXISOR_LOCK_TIMEOUT and the config file's lockTimeout.
 */
export function lockTimeoutOption(what: string): Option {
  return new Option('--lock-timeout <duration>', `${what} (default 10s; AXISOR_LOCK_TIMEOUT)`);
}

/** --prisma-schema (validate, fix), turned into a path by prismaSchemaSpec. */
export function prismaSchemaOption(): Option {
  return new Option('--prisma-schema <file>', 'schema.prisma whose relations are checked too (default: prisma/schema.prisma if present)');
}

/** schema.prisma: --prisma-schema (must exist), else next to the migrations directory (prisma/schema.prisma, optional). */
export function prismaSchemaSpec(flag: string | undefined, config: AxisorConfig, cwd: string): { path: string; required: boolean } {
  return flag ? { path: resolve(cwd, flag), required: true } : { path: resolve(dirname(config.migrationsDir), 'schema.prisma'), required: false };
}

/** Parallel streams when -j/--jobs is not given (backup, backup verify's drill, restore): 2 to 4, by the CPUs. */
export const DEFAULT_JOBS = Math.max(2, Math.min(4, availableParallelism()));

/*
 * The flag value parsers. Every bad flag value is a UsageError (exit 64) that names the flag and what it takes, with
 * an example; commands parse their flags with these before any I/O. (Environment and config-file values are parsed
 * in src/config and are ConfigErrors, 78.)
 */
type Flag = `--${string}`;

export interface IntFlagRange {
  /** Default 1. */
  min?: number;
  max?: number;
}

/** A whole number within the range; `fallback` when the flag is absent. */
export function intFlag(value: string, flag: Flag, range?: IntFlagRange): number;
export function intFlag(value: string | undefined, flag: Flag, range: IntFlagRange, fallback: number): number;
export function intFlag(value: string | undefined, flag: Flag, range?: IntFlagRange): number | undefined;
export function intFlag(value: string | undefined, flag: Flag, range: IntFlagRange = {}, fallback?: number): number | undefined {
  return value === undefined ? fallback : parsePositiveInt(value, flag, range);
}

/** A decimal number: at least `min` (above it with `exclusive`), below `max` (exclusive; default none). */
export function numberFlag(value: string, flag: Flag, opts: { min: number; exclusive?: boolean; max?: number; example: string }): number {
  const n = value.trim() === '' ? NaN : Number(value);
  const max = opts.max ?? Infinity;
  if (!Number.isFinite(n) || (opts.exclusive ? n <= opts.min : n < opts.min) || n >= max) {
    const range = `${opts.exclusive ? 'above' : 'at least'} ${opts.min}${max === Infinity ? '' : ` and below ${max}`}`;
    throw new UsageError(`${flag} '${value}' must be a number ${range}`, { code: 'number', hint: `e.g. ${flag} ${opts.example}` });
  }
  return n;
}

/** A duration in ms (500ms, 30s, 5m, 1h); a bare number means seconds, or milliseconds with `bareNumber: 'ms'`. */
export function durationFlag(value: string, flag: Flag, { bareNumber = 's' }: { bareNumber?: 's' | 'ms' } = {}): number {
  if (bareNumber === 'ms' && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return parseDuration(value, flag, bareNumber === 'ms' ? 'milliseconds' : 'seconds');
}
