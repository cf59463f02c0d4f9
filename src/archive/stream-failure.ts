// What every data stream (dump-stream.ts, load-stream.ts, table-digest.ts) shares: its connection, opened mid-run,
// and how its failures reach the run's failure classification (a lost server, a database error, a failed child
// program), with its children killed on the way out.
import type { ResultPromise } from 'execa';
import type { ConnectionSettings } from '../config/types.ts';
import { connectClient } from '../db/connect.ts';
import { toDatabaseError } from '../db/errors.ts';
import { ConnectionError, ToolError } from '../errors.ts';
import { childFailure, firstErrorLine, stderrTail } from '../pgtools/index.ts';

/** Waits for a child program; a non-zero exit or a signal fails the stream, naming the program and its stderr. */
export async function checkExit(p: ResultPromise, what: string): Promise<void> {
  const r = await p;
  if (r.exitCode !== 0 || r.signal) {
    const tail = stderrTail(r.stderr);
    const first = firstErrorLine(String(r.stderr ?? ''));
    const refused = childFailure(p, r.stderr); // a refused login or a missing privilege keeps its own code (68/78, 67)
    if (refused) throw refused;
    throw new ToolError('failed', `${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`})${first ? `: ${first}` : ''}`, { stderrTail: tail });
  }
}

/** Kills the stream's children still running (a failed stream must not leave a compressor behind). */
export function killAll(...ps: Array<ResultPromise | null>): void {
  for (const p of ps) if (p && p.exitCode === null) p.kill('SIGKILL');
}

/**
 * A data stream opens its session after the run is connected: failing to connect now (refused, or the server
 * restarting) means the server went away mid-run, which the run's failure classification reports as
 * connection.lost (68), like a psql process that could not connect did before.
 */
export async function connectMidRun(conn: ConnectionSettings, applicationName: string): Promise<import('pg').Client> {
  try {
    return await connectClient(conn, { applicationName, statementTimeoutMs: 0, lockTimeoutMs: 0 });
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    if (err instanceof ConnectionError || /not yet accepting connections|starting up|shutting down|in recovery mode/i.test(msg)) {
      throw new Error(`could not connect to server for a data stream: ${msg}`, { cause: err });
    }
    throw err;
  }
}

/** A COPY's error with a SQLSTATE becomes a database error naming `what`; anything else (a lost socket) passes on. */
export function lostOrDb(err: unknown, what: string): unknown {
  if (err instanceof Error && (err as { code?: string }).code && /^[0-9A-Z]{5}$/.test(String((err as { code?: string }).code))) return toDatabaseError(err, what);
  return err;
}
