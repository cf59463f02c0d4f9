import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ExitCode } from '../../src/errors.ts';
import { parsePrismaSchema } from '../../src/validate/prisma-schema.ts';
import { createAxisorSchema, seedSmall, withPg } from '../helpers/axisor-data.ts';
import { ROOT, runCli, type Jsonified } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import type { ValidateListResult, ValidateReport } from '../helpers/results.ts';

/**
 * Coverage: every FK in the migrated database and every @relation in prisma/schema.prisma has a relationship
 * check. Adding a relation to the schema without a constraint in the migration, or a check generator that
 * misses one, fails here.
 */
let db: TestDatabase;
let listed: Jsonified<ValidateListResult>['checks'];
let dbFks: Array<{ conname: string; child: string; cols: string[] }>;
const prisma = parsePrismaSchema(readFileSync(join(ROOT, 'prisma', 'schema.prisma'), 'utf8'));

beforeAll(async () => {
  db = await createTestDatabase('validate_cov');
  await createAxisorSchema(db.url);
  const r = await runCli<ValidateListResult>(['validate', '--list', '--json', '--database-url', db.url]);
  expect(r.exitCode).toBe(0);
  listed = r.json.result.checks;
  dbFks = await withPg(db.url, async (c) => (await c.query(
    `SELECT conname, conrelid::regclass::text AS child,
            array(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute ON attrelid = conrelid AND attnum = k.n ORDER BY i)::text[] AS cols
       FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`,
  )).rows);
});
afterAll(async () => {
  await db?.drop();
});

describe('relationship coverage', () => {
  test('the schema declares relations (the test is not vacuous)', () => {
    expect(prisma.relations.length).toBeGreaterThanOrEqual(18);
    expect(dbFks.length).toBeGreaterThanOrEqual(18);
  });

  test('every FK constraint in the database has a relationship check', () => {
    const names = new Set(listed.filter((c) => c.kind === 'relationship').map((c) => c.name));
    const missing = dbFks.map((f) => `orphan:${f.child.replace(/"/g, '')}.${f.cols.join(',')}`).filter((n) => !names.has(n));
    expect(missing).toEqual([]);
  });

  test('every @relation in schema.prisma has a check and a FK constraint in the init migration', () => {
    const names = new Set(listed.map((c) => c.name));
    const fkKeys = new Set(dbFks.map((f) => `${f.child.replace(/"/g, '')}.${f.cols.join(',')}`));
    for (const r of prisma.relations) {
      const key = `${r.childTable}.${r.childColumns.join(',')}`;
      expect({ relation: `${r.model}.${r.field}`, checked: names.has(`orphan:${key}`) }).toEqual({ relation: `${r.model}.${r.field}`, checked: true });
      if (prisma.relationMode === 'foreignKeys') expect({ relation: `${r.model}.${r.field}`, constraint: fkKeys.has(key) }).toEqual({ relation: `${r.model}.${r.field}`, constraint: true });
    }
  });

  test('there are no relationship checks beyond the schema\'s relations (nothing hand-written)', () => {
    expect(listed.filter((c) => c.kind === 'relationship').length).toBe(new Set([...dbFks.map((f) => `${f.child}.${f.cols}`), ...prisma.relations.map((r) => `"${r.childTable}".${r.childColumns}`)].map((s) => s.replace(/"/g, ''))).size);
  });
});

describe('relations kept only in schema.prisma (no FK constraint)', () => {
  test('are still checked, and orphans inserted without triggers tricks are found', async () => {
    const d = await createTestDatabase('validate_prisma_only');
    try {
      await createAxisorSchema(d.url);
      await seedSmall(d.url);
      await withPg(d.url, async (c) => {
        await c.query('ALTER TABLE "TradeLog" DROP CONSTRAINT "TradeLog_user_id_fkey"');
        await c.query(`INSERT INTO "TradeLog"(id, user_id, exchange_account_id, type, symbol, side, size, price, status, executed_at) VALUES ('t-x', 'u-gone', 'ea1', 'OPEN', 'BTCUSD', 'BUY', 1, 1, 'FILLED', '2025-01-01')`);
      });
      const r = await runCli<ValidateReport>(['validate', '--json', '--check', 'orphan:TradeLog.user_id', '--database-url', d.url]);
      expect(r.exitCode).toBe(ExitCode.CHECK_FAILED);
      expect(r.json.result.checks[0]).toMatchObject({ failures: 1, samples: ['t-x'] });
      expect(r.json.result.checks[0].description).toContain('no FK constraint');
      // An explicit --prisma-schema that cannot be read is a configuration error, not a silently smaller check set.
      const none = await runCli(['validate', '--json', '--prisma-schema', join(ROOT, 'no-such.prisma'), '--database-url', d.url]);
      expect(none.exitCode).toBe(ExitCode.CONFIG);
    } finally {
      await d.drop();
    }
  });
});
