import { describe, expect, test } from '@jest/globals';
import { connectionUse, toSessionRow } from '../../src/diagnostics/pool.ts';
import type { ActivityRow } from '../../src/diagnostics/pool-sql.ts';

const row = (r: Partial<ActivityRow>): ActivityRow => ({
  pid: 42, user: 'app', application: 'api', client: '10.0.0.1', state: 'active', wait_event: null,
  query_ms: 10, xact_ms: 10, state_ms: 10, blocked_by: [], query: 'SELECT 1', ...r,
});
const t = { longQueryMs: 60_000, idleInTransactionMs: 30_000 };

describe('toSessionRow: one pg_stat_activity row, flagged', () => {
  test('a short active query is not flagged; a long one is', () => {
    expect(toSessionRow(row({}), t).flag).toBeNull();
    expect(toSessionRow(row({ query_ms: 60_000 }), t).flag).toBe('long_query');
  });
  test('idle in transaction (also "(aborted)") counts the time in that state, not the query time', () => {
    expect(toSessionRow(row({ state: 'idle in transaction', query_ms: 999_999, state_ms: 29_999 }), t).flag).toBeNull();
    expect(toSessionRow(row({ state: 'idle in transaction (aborted)', state_ms: 30_000 }), t).flag).toBe('idle_in_transaction');
  });
  test('blocked wins over everything else', () => {
    expect(toSessionRow(row({ blocked_by: [7], query_ms: 999_999 }), t)).toMatchObject({ flag: 'blocked', blockedBy: [7] });
  });
  test('NULLs from hidden or odd rows become the documented defaults', () => {
    expect(toSessionRow(row({ application: null, blocked_by: null, query: null }), t)).toMatchObject({ application: '', blockedBy: [], query: '' });
  });
});

describe('connectionUse', () => {
  test('usable connections are max_connections minus the superuser reserve', () => {
    expect(connectionUse({ total: 60, clients: 45 }, { max_connections: '100', superuser_reserved_connections: '3' }, 10))
      .toEqual({ total: 60, clientBackends: 45, maxConnections: 100, reserved: 3, available: 97, usedFraction: 45 / 97, poolMax: 10 });
  });
  test('never divides by zero', () => {
    expect(connectionUse({ total: 1, clients: 1 }, { max_connections: '3', superuser_reserved_connections: '3' }, 10).available).toBe(1);
  });
});
