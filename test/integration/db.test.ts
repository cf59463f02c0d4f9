import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { connectClient, withAdvisoryLock, withClient, trySavepoint, withTransaction, createPool } from '../../src/db/index.ts';
import { withDatabase } from '../../src/db/connect.ts';
import { AxisorError, ExitCode } from '../../src/errors.ts';
import { createTestDatabase, query, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('db');
  await query(db.url, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
});
afterAll(async () => {
  await db?.drop();
});

async function errorOf(p: Promise<unknown>): Promise<AxisorError> {
  try {
    await p;
  } catch (e) {
    return e as AxisorError;
  }
  throw new Error('expected a rejection');
}

describe('connection errors are mapped to one clear error', () => {
  test('unreachable port', async () => {
    const e = await errorOf(connectClient({ ...db.connection, port: 1 }));
    expect([e.code, e.exitCode]).toEqual(['connection.refused', ExitCode.CONNECTION]);
    expect(e.message).toContain('127.0.0.1:1');
  });
  test('missing database', async () => {
    const e = await errorOf(connectClient(withDatabase(db.connection, 'axisor_test_no_such_db')));
    expect([e.code, e.exitCode]).toEqual(['not_found.database', ExitCode.NOT_FOUND]);
  });
  test('unknown role (pg_hba trust lets it reach role lookup)', async () => {
    const e = await errorOf(connectClient({ ...db.connection, user: 'axisor_no_such_role' }));
    expect(e.exitCode).toBe(ExitCode.CONNECTION);
  });
});

test('withTransaction commits, rolls back on error, and applies the isolation level', async () => {
  await withClient(db.connection, async (c) => {
    await withTransaction(c, { isolationLevel: 'repeatable read' }, async (tx) => {
      const { rows } = await tx.query(`SELECT current_setting('transaction_isolation') AS iso`);
      expect(rows[0].iso).toBe('repeatable read');
      await tx.query(`INSERT INTO t VALUES (1, 'a')`);
    });
    await expect(withTransaction(c, {}, async (tx) => {
      await tx.query(`INSERT INTO t VALUES (2, 'b')`);
      throw new Error('boom');
    })).rejects.toThrow('boom');
    const e = await errorOf(withTransaction(c, {}, async (tx) => tx.query(`INSERT INTO t VALUES (1, 'dup')`)));
    expect((e as AxisorError & { sqlState?: string }).sqlState).toBe('23505');
    const { rows } = await c.query('SELECT id FROM t ORDER BY id');
    expect(rows).toEqual([{ id: 1 }]);
  });
});

test('withTransaction over a pool releases the client', async () => {
  const pool = await createPool(db.connection, { pool: { max: 2 } });
  try {
    for (let i = 0; i < 5; i++) await withTransaction(pool, { readOnly: true }, (tx) => tx.query('SELECT 1'));
    expect(pool.idleCount).toBeLessThanOrEqual(2);
    expect(pool.waitingCount).toBe(0);
  } finally {
    await pool.end();
  }
});

describe('withTransaction options', () => {
  test('read only: a write is refused (25006) and nothing is written', async () => {
    await withClient(db.connection, async (c) => {
      const e = await errorOf(withTransaction(c, { readOnly: true }, (tx) => tx.query(`INSERT INTO t VALUES (100, 'ro')`)));
      expect((e as AxisorError & { sqlState?: string }).sqlState).toBe('25006');
      expect((await c.query('SELECT count(*)::int AS n FROM t WHERE id = 100')).rows[0].n).toBe(0);
      expect((await c.query(`SELECT current_setting('transaction_read_only') AS ro`)).rows[0].ro).toBe('off');
    });
  });

  test('serializable read only deferrable: the modes reach the server', async () => {
    await withClient(db.connection, async (c) => {
      const modes = await withTransaction(c, { isolationLevel: 'serializable', readOnly: true, deferrable: true }, async (tx) => (await tx.query(
        `SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro, current_setting('transaction_deferrable') AS d`,
      )).rows[0]);
      expect(modes).toEqual({ iso: 'serializable', ro: 'on', d: 'on' });
    });
  });

  test("an imported snapshot sees the exporter's view, not rows committed after it", async () => {
    await withClient(db.connection, async (exporter) => {
      await withTransaction(exporter, { isolationLevel: 'repeatable read', readOnly: true, rollbackAtEnd: true }, async (tx) => {
        const snapshot = (await tx.query('SELECT pg_export_snapshot() AS s')).rows[0].s as string;
        await withClient(db.connection, async (writer) => writer.query(`INSERT INTO t VALUES (200, 'after the snapshot')`));
        await withClient(db.connection, async (reader) => {
          const seen = await withTransaction(reader, { isolationLevel: 'repeatable read', readOnly: true, snapshot }, async (r) => (await r.query('SELECT count(*)::int AS n FROM t WHERE id = 200')).rows[0].n);
          expect(seen).toBe(0);
          // Without the snapshot the same session sees the committed row: the import made the difference.
          const now = await withTransaction(reader, { isolationLevel: 'repeatable read', readOnly: true }, async (r) => (await r.query('SELECT count(*)::int AS n FROM t WHERE id = 200')).rows[0].n);
          expect(now).toBe(1);
        });
      });
    });
    await query(db.url, 'DELETE FROM t WHERE id = 200');
  });

  test('an unknown snapshot is refused and leaves the session out of any transaction', async () => {
    await withClient(db.connection, async (c) => {
      const e = await errorOf(withTransaction(c, { isolationLevel: 'repeatable read', snapshot: '00000003-0000001B-1' }, async () => 'never'));
      expect((e as unknown as { code?: string }).code).toBe('22023');
      await c.query('SELECT 1');
      expect((await c.query('SELECT now() = statement_timestamp() AS outside')).rows[0].outside).toBe(true);
    });
  });

  test('sessionSql is sent with the BEGIN and holds for the session; the snapshot import still applies', async () => {
    await withClient(db.connection, async (exporter) => {
      await withTransaction(exporter, { isolationLevel: 'repeatable read', readOnly: true, rollbackAtEnd: true }, async (tx) => {
        const snapshot = (await tx.query('SELECT pg_export_snapshot() AS s')).rows[0].s as string;
        await withClient(db.connection, async (c) => {
          const seen = await withTransaction(c, { sessionSql: `SET extra_float_digits = 1`, isolationLevel: 'repeatable read', readOnly: true, snapshot }, async (r) => (await r.query(
            `SELECT current_setting('extra_float_digits') AS d, current_setting('transaction_read_only') AS ro`,
          )).rows[0]);
          expect(seen).toEqual({ d: '1', ro: 'on' });
          expect((await c.query(`SELECT current_setting('extra_float_digits') AS d`)).rows[0].d).toBe('1');
        });
      });
    });
  });

  test('rollbackAtEnd returns the result and leaves no change', async () => {
    await withClient(db.connection, async (c) => {
      const result = await withTransaction(c, { rollbackAtEnd: true }, async (tx) => {
        await tx.query(`INSERT INTO t VALUES (300, 'dry')`);
        return (await tx.query('SELECT count(*)::int AS n FROM t WHERE id = 300')).rows[0].n as number;
      });
      expect(result).toBe(1);
      expect((await c.query('SELECT count(*)::int AS n FROM t WHERE id = 300')).rows[0].n).toBe(0);
    });
  });

  test('mapErrors: false passes the server error through as thrown', async () => {
    await withClient(db.connection, async (c) => {
      const e = await errorOf(withTransaction(c, { mapErrors: false }, (tx) => tx.query('SELECT nosuchcolumn FROM t')));
      expect(e).not.toHaveProperty('exitCode');
      expect((e as unknown as { code: string; position: string }).code).toBe('42703');
      expect((e as unknown as { position: string }).position).toBe('8');
    });
  });

  test('trySavepoint: a failed step is undone and returned, the transaction goes on; a good one is kept', async () => {
    await withClient(db.connection, async (c) => {
      await withTransaction(c, {}, async (tx) => {
        const good = await trySavepoint(tx, 'axisor_step', async () => (await tx.query(`INSERT INTO t VALUES (400, 'kept') RETURNING id`)).rows[0].id);
        expect(good).toEqual({ ok: true, value: 400 });
        const bad = await trySavepoint(tx, 'axisor_step', async () => {
          await tx.query(`INSERT INTO t VALUES (401, 'undone')`);
          await tx.query(`INSERT INTO t VALUES (400, 'duplicate')`);
        });
        expect(bad.ok).toBe(false);
        expect(!bad.ok && (bad.error as { code?: string }).code).toBe('23505');
        await tx.query(`INSERT INTO t VALUES (402, 'after')`);
      });
      expect((await c.query('SELECT id FROM t WHERE id >= 400 ORDER BY id')).rows).toEqual([{ id: 400 }, { id: 402 }]);
      // Outside a transaction there is no savepoint to roll back to: that throws instead of reporting a failed step.
      await expect(trySavepoint(c, 'axisor_step', async () => 1)).rejects.toMatchObject({ code: '25P01' });
    });
    await query(db.url, 'DELETE FROM t WHERE id >= 400');
  });
});

test('withAdvisoryLock: a second session times out and learns the holder pid; a dead holder releases it', async () => {
  const holder = await connectClient(db.connection, { applicationName: 'axisor-holder' });
  const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  let release!: () => void;
  const held = withAdvisoryLock(holder, 'axisor-test-lock', { timeoutMs: 0, label: 'test' }, () => new Promise<void>((r) => (release = r)));
  await new Promise((r) => setTimeout(r, 100));
  await withClient(db.connection, async (c) => {
    const e = await errorOf(withAdvisoryLock(c, 'axisor-test-lock', { timeoutMs: 300, pollMs: 50, label: 'test', waitFlag: '--lock-timeout' }, async () => 1));
    expect(e.exitCode).toBe(ExitCode.LOCK_HELD);
    expect((e.details?.holder as { pid: number }).pid).toBe(holderPid);
    expect((e.details?.holder as { applicationName: string }).applicationName).toBe('axisor-holder');
    expect(e.message).toContain(String(holderPid));
  });
  release();
  await held;
  // A holder that dies (killed process) leaves no lock: the server drops session locks with the session.
  await withAdvisoryLock(holder, 'axisor-test-lock', { timeoutMs: 0, label: 'test' }, async () => {
    await holder.end().catch(() => {});
  }).catch(() => {});
  await withClient(db.connection, (c) => withAdvisoryLock(c, 'axisor-test-lock', { timeoutMs: 2000, pollMs: 50, label: 'test' }, async () => 'got it'))
    .then((v) => expect(v).toBe('got it'));
});
