import { describe, expect, test } from '@jest/globals';
import { backoffDelay, isRetryableTransactionError } from '../../src/data/retry.ts';
import { REDACTED, redactFields, sqlStateOf } from '../../src/data/logger.ts';
import { TransactionService } from '../../src/data/transaction-service.ts';

// Shapes as Prisma 7.10 + @prisma/adapter-pg produce them (see src/data/logger.ts sqlStateOf).
const adapterError = (originalCode: string, kind = 'postgres') => ({ name: 'DriverAdapterError', cause: { kind, originalCode, originalMessage: 'x' } });
const known = (code: string, dae: unknown) => ({ name: 'PrismaClientKnownRequestError', code, meta: { driverAdapterError: dae } });

describe('retry classification', () => {
  test.each([
    ['P2034 wrapping 40001', known('P2034', adapterError('40001', 'TransactionWriteConflict')), true],
    ['P2034 wrapping 40P01', known('P2034', adapterError('40P01', 'TransactionWriteConflict')), true],
    ['bare DriverAdapterError (COMMIT) 40001', adapterError('40001', 'TransactionWriteConflict'), true],
    ['plain pg error 40P01', { code: '40P01', message: 'deadlock detected' }, true],
    ['P2034 without details', { code: 'P2034' }, true],
    ['unique violation P2002/23505', known('P2002', adapterError('23505', 'UniqueConstraintViolation')), false],
    ['raise_exception P0001 in P2010', known('P2010', adapterError('P0001')), false],
    ['lock timeout 55P03', { code: '55P03' }, false],
    ['plain Error', new Error('boom'), false],
  ])('%s', (_name, err, retry) => {
    expect(isRetryableTransactionError(err)).toBe(retry);
  });

  test('Prisma codes are not mistaken for SQLSTATEs, PostgreSQL P0xxx are', () => {
    expect(sqlStateOf({ code: 'P2002' })).toBeUndefined();
    expect(sqlStateOf({ code: 'P0001' })).toBe('P0001');
  });

  test('backoff is exponential, capped, and jittered within [0, cap)', () => {
    const opts = { baseDelayMs: 20, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, opts, () => 0.999999))).toEqual([19, 39, 79, 159, 999]);
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
  });
});

describe('log redaction', () => {
  test('credential-like keys are masked at any depth; ids and codes stay', () => {
    const out = redactFields({ id: 'u1', data: { email: 'a@b.c', password_hash: 'h', nested: { api_secret_encrypted: 'c', two_factor_secret: 's', token_hash: 't' } } }) as any;
    expect(out).toEqual({ id: 'u1', data: { email: 'a@b.c', password_hash: REDACTED, nested: { api_secret_encrypted: REDACTED, two_factor_secret: REDACTED, token_hash: REDACTED } } });
  });
  test('connection URLs lose their password', () => {
    expect(redactFields({ msg: 'postgres://app:s3cr3t@db:5432/x' })).toEqual({ msg: 'postgres://app:***@db:5432/x' });
  });
});

describe('TransactionService.executeTransaction retry loop (fake client)', () => {
  const conflict = known('P2034', adapterError('40001', 'TransactionWriteConflict'));

  function fakeClient(failures: unknown[]) {
    const calls: unknown[] = [];
    const client = {
      $transaction: async (fn: (tx: unknown) => Promise<unknown>, opts: unknown) => {
        calls.push(opts);
        const f = failures.shift();
        if (f) throw f;
        return fn({});
      },
    };
    return { client: client as any, calls };
  }

  test('retries 40001 with growing, jittered pauses, then succeeds; logs redacted', async () => {
    const { client, calls } = fakeClient([conflict, conflict]);
    const sleeps: number[] = [];
    const lines: unknown[] = [];
    const raw = { debug: () => {}, info: () => {}, warn: (_m: string, f?: unknown) => lines.push(f), error: (_m: string, f?: unknown) => lines.push(f) };
    const svc = new TransactionService(client, raw, { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 });
    const out = await svc.executeTransaction(async () => 'done', { isolationLevel: 'Serializable', timeout: 1234, baseDelayMs: 100, maxDelayMs: 10_000 });
    expect(out).toBe('done');
    expect(calls).toHaveLength(3);
    expect(calls[0]).toEqual({ isolationLevel: 'Serializable', timeout: 1234, maxWait: 5000 });
    expect(sleeps).toEqual([50, 100]);
    expect(lines.map((l) => (l as { error: { sqlState: string } }).error.sqlState)).toEqual(['40001', '40001']);
  });

  test('gives up after maxRetries and rethrows the original error; other errors are not retried', async () => {
    const a = fakeClient([conflict, conflict, conflict]);
    const svc = new TransactionService(a.client, { debug() {}, info() {}, warn() {}, error() {} }, { sleep: async () => {} });
    await expect(svc.executeTransaction(async () => 1, { maxRetries: 2 })).rejects.toBe(conflict);
    expect(a.calls).toHaveLength(3);
    const unique = known('P2002', adapterError('23505', 'UniqueConstraintViolation'));
    const b = fakeClient([unique]);
    const svc2 = new TransactionService(b.client, { debug() {}, info() {}, warn() {}, error() {} }, { sleep: async () => {} });
    await expect(svc2.executeTransaction(async () => 1)).rejects.toBe(unique);
    expect(b.calls).toHaveLength(1);
  });
});
