/**
 * One error hierarchy for the whole tool. Services throw these; only bin/ (via src/main.ts) turns them
 * into a process exit code. Every error carries a dotted `code`, the `exitCode` and a `hint` that names
 * the flag, variable or command that fixes the problem.
 *
 * Exit codes 0-63 belong to command results (0 ok, 1 warnings, 2 errors found, bitmaps such as
 * `migrate status`). Failures of the tool itself use 64 and up, loosely following sysexits.h.
 */
export const ExitCode = {
  OK: 0,
  WARNINGS: 1,
  CHECK_FAILED: 2,
  USAGE: 64,
  INTEGRITY: 65,
  NOT_FOUND: 66,
  PRIVILEGE: 67,
  CONNECTION: 68,
  PREREQUISITE: 69,
  INTERNAL: 70,
  DATABASE: 71,
  TOOL: 72,
  PATH: 73,
  NO_SPACE: 74,
  LOCK_HELD: 75,
  REFUSED: 77,
  CONFIG: 78,
  ABORTED: 130,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

/** The table printed by `--help` and copied into the README. */
export const EXIT_CODE_DOCS: ReadonlyArray<readonly [number, string]> = [
  [ExitCode.OK, 'success; checks passed'],
  [ExitCode.WARNINGS, 'checks found warnings only (validate, optimize, debug-*)'],
  [ExitCode.CHECK_FAILED, 'checks found errors / critical findings'],
  [ExitCode.USAGE, 'bad command line: unknown command or flag, missing argument, invalid flag value (--database-url too)'],
  [ExitCode.INTEGRITY, 'a backup or file failed its checksum or manifest verification'],
  [ExitCode.NOT_FOUND, 'a named thing does not exist: database, backup id, migration'],
  [ExitCode.PRIVILEGE, 'the role lacks a privilege; the message names the role and the exact GRANT'],
  [ExitCode.CONNECTION, 'cannot connect: host/port unreachable, authentication failed, SSL refused'],
  [ExitCode.PREREQUISITE, 'a server prerequisite is missing (extension, wal_level, plugin)'],
  [ExitCode.INTERNAL, 'internal error (a bug: please report it with --verbose output)'],
  [ExitCode.DATABASE, 'a statement failed on the server (SQLSTATE in the message)'],
  [ExitCode.TOOL, 'pg_dump/pg_restore/psql missing, too old, or failed'],
  [ExitCode.PATH, 'a local path cannot be used: permission denied, not a directory, missing parent (names path and OS user)'],
  [ExitCode.NO_SPACE, 'no space left on a local file system (says how much is free and about how much is needed)'],
  [ExitCode.LOCK_HELD, 'another run holds the lock (retry, or raise --lock-timeout/--wait)'],
  [ExitCode.REFUSED, 'refused by a safety check; the message names the flag that overrides it'],
  [ExitCode.CONFIG, 'invalid configuration: malformed DATABASE_URL or PG* variable, bad config file or value'],
  [ExitCode.ABORTED, 'interrupted (SIGINT/SIGTERM) or declined by the user'],
];

export interface AxisorErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class AxisorError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, exitCode: number, message: string, opts: AxisorErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      exitCode: this.exitCode,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export class UsageError extends AxisorError {
  /** `opts.code` refines the code: `usage.url_port` for a bad --database-url port, for instance. */
  constructor(message: string, opts: AxisorErrorOptions & { code?: string } = {}) {
    super(opts.code ? `usage.${opts.code}` : 'usage', ExitCode.USAGE, message, opts);
  }
}

export class ConfigError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`config.${code}`, ExitCode.CONFIG, message, opts);
  }
}

/**
 * A bad value: from a command-line flag (`source` starts with `--`) it is a usage error (64), from the
 * environment or a config file a configuration error (78). One rule for every value the tool parses.
 */
export function badValue(source: string, code: string, message: string, opts: AxisorErrorOptions = {}): AxisorError {
  return source.startsWith('--') ? new UsageError(message, { ...opts, code }) : new ConfigError(code, message, opts);
}

export class ConnectionError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`connection.${code}`, ExitCode.CONNECTION, message, opts);
  }
}

export class NotFoundError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`not_found.${code}`, ExitCode.NOT_FOUND, message, opts);
  }
}

/** A statement failed on the server. Keeps SQLSTATE, detail, hint and position from PostgreSQL. */
export class DatabaseError extends AxisorError {
  readonly sqlState?: string;
  constructor(message: string, opts: AxisorErrorOptions & { sqlState?: string } = {}) {
    super(`database${opts.sqlState ? `.${opts.sqlState}` : ''}`, ExitCode.DATABASE, message, opts);
    this.sqlState = opts.sqlState;
  }
}

/** An external program (pg_dump, pg_restore, psql, zstd...) is missing, too old, or failed. */
export class ToolError extends AxisorError {
  readonly stderrTail?: string;
  constructor(code: string, message: string, opts: AxisorErrorOptions & { stderrTail?: string } = {}) {
    super(`tool.${code}`, ExitCode.TOOL, message, opts);
    this.stderrTail = opts.stderrTail;
  }
}

/** The role lacks a privilege. The message names the role and the object; the hint is the exact GRANT/ALTER. */
export class PrivilegeError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`privilege.${code}`, ExitCode.PRIVILEGE, message, opts);
  }
}

/** A local path cannot be used (EACCES, EPERM, ENOTDIR, EEXIST as a file, ENOENT parent, EROFS). Names the path and the OS user. */
export class PathError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`path.${code}`, ExitCode.PATH, message, opts);
  }
}

/** No space left on a local file system (ENOSPC, EDQUOT). Says how much is free and roughly how much is needed. */
export class NoSpaceError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`no_space.${code}`, ExitCode.NO_SPACE, message, opts);
  }
}

export class PrerequisiteError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`prerequisite.${code}`, ExitCode.PREREQUISITE, message, opts);
  }
}

export class IntegrityError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`integrity.${code}`, ExitCode.INTEGRITY, message, opts);
  }
}

export class LockHeldError extends AxisorError {
  constructor(message: string, opts: AxisorErrorOptions = {}) {
    super('lock.held', ExitCode.LOCK_HELD, message, opts);
  }
}

export class RefusedError extends AxisorError {
  constructor(code: string, message: string, opts: AxisorErrorOptions = {}) {
    super(`refused.${code}`, ExitCode.REFUSED, message, opts);
  }
}

export class AbortedError extends AxisorError {
  constructor(message = 'aborted', opts: AxisorErrorOptions = {}) {
    super('aborted', ExitCode.ABORTED, message, opts);
  }
}

/** Anything that is not an AxisorError is a bug: wrap it so bin/ prints a stack only for these (or with --verbose). */
export function toAxisorError(err: unknown): AxisorError {
  if (err instanceof AxisorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AxisorError('internal', ExitCode.INTERNAL, message, {
    cause: err,
    hint: 'this is a bug in axisor-db; rerun with --verbose and report the output',
  });
}
