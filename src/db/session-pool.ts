import type pg from 'pg';
import type { ConnectionSettings } from '../config/types.ts';
import { connectMidRun } from './connect.ts';

/** Sessions lent to the tasks of a run (withSessionPool). */
export interface SessionPool {
  /** Runs `fn`, which may ask for a session; the session goes back to the idle ones afterwards. */
  lend(fn: (session: () => Promise<pg.Client>) => Promise<void>): Promise<void>;
}

export interface SessionPoolOptions {
  applicationName: string;
  /** Set on every session when it opens, in order (set_config with parameters: values never enter the SQL text). */
  settings: ReadonlyArray<[string, string]>;
}

/**
 * Runs `fn` with sessions opened when a task first asks for one and kept for the next task (so at most one per
 * task running at once, and each pays for its connection and settings once), and closes them all afterwards.
 * Unlike pg.Pool, nothing here resets a session between tasks: the settings hold for the whole run. The run is
 * already connected, so a session that cannot be opened means the server went away (connectMidRun, exit 68).
 */
export async function withSessionPool<T>(conn: ConnectionSettings, o: SessionPoolOptions, fn: (pool: SessionPool) => Promise<T>): Promise<T> {
  const idle: pg.Client[] = [];
  const opened: pg.Client[] = [];
  const open = async (): Promise<pg.Client> => {
    const c = idle.pop();
    if (c) return c;
    const n = await connectMidRun(conn, o.applicationName);
    opened.push(n);
    if (o.settings.length > 0) {
      await n.query(`SELECT ${o.settings.map((_, i) => `pg_catalog.set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ')}`, o.settings.flat());
    }
    return n;
  };
  const pool: SessionPool = {
    async lend(task) {
      let held: pg.Client | null = null;
      try {
        await task(async () => (held = await open()));
      } finally {
        if (held) idle.push(held);
      }
    },
  };
  try {
    return await fn(pool);
  } finally {
    await Promise.all(opened.map((c) => c.end().catch(() => {})));
  }
}
