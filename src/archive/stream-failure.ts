// What every data stream (dump-stream.ts, load-stream.ts, table-digest.ts) shares: how its failures reach the
// run's failure classification (a database error, a failed child program), with its children killed on the way
// out. Its connection, opened mid-run, is src/db's connectMidRun.
import type { ResultPromise } from 'execa';
import { toDatabaseError } from '../db/errors.ts';
import { ToolError } from '../errors.ts';
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

/** A COPY's error with a SQLSTATE becomes a database error naming `what`; anything else (a lost socket) passes on. */
export function lostOrDb(err: unknown, what: string): unknown {
  if (err instanceof Error && (err as { code?: string }).code && /^[0-9A-Z]{5}$/.test(String((err as { code?: string }).code))) return toDatabaseError(err, what);
  return err;
}
