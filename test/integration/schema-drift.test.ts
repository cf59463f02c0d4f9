import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import { diffCatalogs, readCatalog, type CatalogSnapshot } from '../../src/data/catalog.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { expectedCatalog } from '../helpers/prisma-model.ts';
import { createMigratedDatabase, MIGRATIONS_DIR } from '../helpers/schema.ts';

const SCHEMA_FILE = join(MIGRATIONS_DIR, '..', 'schema.prisma');
const DOCUMENT_TABLES = ['Automation', 'MarginGuardConfig', 'Notification', 'NotificationDelivery', 'NotificationTemplate', 'Payment', 'RefreshToken',
  'Simulation', 'SimulationResult', 'TradeLog', 'User', 'UserExchangeAccount', 'UserPreferences'];

let db: TestDatabase;
let actual: CatalogSnapshot;
const schemaText = readFileSync(SCHEMA_FILE, 'utf8');

beforeAll(async () => {
  db = await createMigratedDatabase('drift');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    actual = await readCatalog(c, 'public');
  } finally {
    await c.end();
  }
});
afterAll(async () => {
  await db?.drop();
});

describe('schema.prisma and the migrated database do not drift', () => {
  test('a fresh database after the migrations has exactly the design document tables', () => {
    expect(Object.keys(actual).sort()).toEqual(DOCUMENT_TABLES);
  });

  test('columns, types, nullability, defaults, keys, indexes and foreign keys match schema.prisma', () => {
    expect(diffCatalogs(expectedCatalog(schemaText), actual)).toEqual([]);
  });

  test('the document column names and delete rules are there', () => {
    expect(Object.keys(actual.TradeLog!.columns)).toEqual(expect.arrayContaining(['user_id', 'exchange_account_id', 'automation_id', 'executed_at']));
    expect(actual.Automation!.columns.execution_count).toEqual({ type: 'integer', nullable: false, default: '0' });
    expect(actual.TradeLog!.foreignKeys.TradeLog_user_id_fkey!.onDelete).toBe('RESTRICT');
    expect(actual.TradeLog!.indexes.TradeLog_user_id_executed_at_idx).toEqual({ columns: ['user_id', 'executed_at'], unique: false });
  });

  // The comparison must be able to fail: edit the schema text the way a careless change would.
  test.each([
    ['a new field without a migration', (s: string) => s.replace(/(model User \{\n)/, '$1  nickname String?\n'), /User\.nickname: column missing in the database/],
    ['a changed precision', (s: string) => s.replace('price    Decimal  @db.Decimal(20, 8)', 'price    Decimal  @db.Decimal(18, 8)'), /TradeLog\.price: type/],
    ['a new index', (s: string) => s.replace('@@index([automation_id])\n  @@index([margin_guard_config_id])\n  @@index([simulation_id])', '@@index([automation_id])\n  @@index([margin_guard_config_id])\n  @@index([simulation_id])\n  @@index([symbol])'), /index TradeLog_symbol_idx/],
    ['a changed delete rule', (s: string) => s.replace('@relation(fields: [user_id], references: [id], onDelete: Restrict)\n  exchange_account', '@relation(fields: [user_id], references: [id], onDelete: Cascade)\n  exchange_account'), /foreign key TradeLog_user_id_fkey/],
    ['a changed default', (s: string) => s.replace(/(timezone\s+String\s+)@default\("UTC"\)/, '$1@default("America/Sao_Paulo")'), /User\.timezone: default/],
  ])('detects %s', (_what, edit, expected) => {
    const edited = edit(schemaText);
    expect(edited).not.toBe(schemaText);
    const diffs = diffCatalogs(expectedCatalog(edited), actual);
    expect(diffs.join('\n')).toMatch(expected);
  });
});
