import { describe, expect, test } from '@jest/globals';
import { mergePrismaRelations, relationKey, type Relation, type TableInfo } from '../../src/validate/catalog.ts';
import { relationshipCheck, rowRule } from '../../src/validate/checks.ts';
import { parsePrismaSchema } from '../../src/validate/prisma-schema.ts';
import { planUnits } from '../../src/validate/scan-sql.ts';

const SCHEMA = `
// A comment with a brace { and @relation(fields: [nope], references: [id])
datasource db {
  provider     = "postgresql"
  relationMode = "prisma"
}

model Account {
  id      String @id @map("account_id")
  tenant  String @map("tenant_key")
  /// doc comment: @relation(fields: [x], references: [y]) is not a relation
  label   String @default("a // not a comment { }")
  members Member[]

  @@id([tenant, id])
  @@map("accounts")
}

model Member {
  id        Int     @id
  accountId String  @map("account_ref")
  tenantId  String
  inviterId Int?
  account   Account @relation(fields: [tenantId, accountId], references: [tenant, id], onDelete: Cascade)
  inviter   Member? @relation("invites", fields: [inviterId], references: [id], onDelete: SetNull)
  invited   Member[] @relation("invites")
}
`;

describe('parsePrismaSchema', () => {
  const info = parsePrismaSchema(SCHEMA);

  test('maps models to tables (@@map) and fields to columns (@map)', () => {
    expect(info.models.get('Account')!.table).toBe('accounts');
    expect(info.models.get('Account')!.columns.get('id')).toBe('account_id');
    expect(info.models.get('Member')!.table).toBe('Member');
    expect(info.relationMode).toBe('prisma');
  });

  test('reads composite and self relations, ignoring comments, doc comments and strings', () => {
    expect(info.relations.map((r) => [r.childTable, r.childColumns, r.parentTable, r.parentColumns, r.onDelete])).toEqual([
      ['Member', ['tenantId', 'account_ref'], 'accounts', ['tenant_key', 'account_id'], 'Cascade'],
      ['Member', ['inviterId'], 'Member', ['id'], 'SetNull'],
    ]);
  });

  test('defaults relationMode to foreignKeys', () => {
    expect(parsePrismaSchema('datasource db {\n provider = "postgresql"\n}').relationMode).toBe('foreignKeys');
  });

  test('rejects relations to unknown models or fields', () => {
    expect(() => parsePrismaSchema('model A {\n id Int @id\n b B @relation(fields: [bId], references: [id])\n}')).toThrow(/unknown model B/);
    expect(() => parsePrismaSchema('model A {\n id Int @id\n a A? @relation(fields: [nope], references: [id])\n}')).toThrow(/no field nope/);
  });
});

describe('catalog merge', () => {
  const tables = new Map<string, TableInfo>([
    ['accounts', { name: 'accounts', primaryKey: ['tenant_key', 'account_id'], columns: [] }],
    ['Member', { name: 'Member', primaryKey: ['id'], columns: [] }],
  ]);
  const prisma = parsePrismaSchema(SCHEMA).relations;

  test('a relation in both is one entry; a Prisma-only relation is added', () => {
    const fk: Relation = { childTable: 'Member', childColumns: ['inviterId'], parentTable: 'Member', parentColumns: ['id'], constraint: 'Member_inviter_fkey', onDelete: 'n' };
    const merged = mergePrismaRelations([fk], prisma, tables);
    expect(merged.length).toBe(2);
    expect(merged.find((r) => r.constraint)!.prisma).toBe('Member.inviter');
    const only = merged.find((r) => !r.constraint)!;
    expect([relationKey(only), only.onDelete]).toEqual(['Member(tenantId,account_ref)->accounts(tenant_key,account_id)', 'c']);
  });

  test('relations to tables missing in the database are left out (reported by the caller)', () => {
    expect(mergePrismaRelations([], prisma, new Map([['Member', tables.get('Member')!]])).map(relationKey)).toEqual(['Member(inviterId)->Member(id)']);
  });
});

describe('check SQL', () => {
  const catalog = { schema: 's', tables: new Map<string, TableInfo>([['C', { name: 'C', primaryKey: ['id'], columns: ['id', 'a', 'b'] }], ['P', { name: 'P', primaryKey: ['x', 'y'], columns: ['x', 'y'] }]]), relations: [] };
  const rel: Relation = { childTable: 'C', childColumns: ['a', 'b'], parentTable: 'P', parentColumns: ['x', 'y'], constraint: 'c_fk' };

  test('relationship checks are anti-joins with MATCH SIMPLE null handling, never NOT IN', () => {
    const c = relationshipCheck(catalog, rel);
    expect(c.sql).toBe('SELECT c."id", c."a", c."b" FROM "s"."C" c WHERE c."a" IS NOT NULL AND c."b" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "s"."P" p WHERE p."x" = c."a" AND p."y" = c."b")');
    expect(c.sql).not.toMatch(/NOT IN/i);
  });

  test('row checks without joins share one scan; relationship checks run alone on their FK columns', () => {
    const a = relationshipCheck(catalog, rel);
    const b = rowRule(catalog, { name: 'neg', table: 'C', severity: 'error', description: '', predicate: 't."a" < \'0\'', show: ['a'] });
    const c = rowRule(catalog, { name: 'big', table: 'C', severity: 'warn', description: '', predicate: 't."b" > \'9\'', show: ['b'] });
    const units = planUnits('s', [a, b, c]);
    expect(units.map((u) => u.checks.map((x) => x.name))).toEqual([['orphan:C.a,b'], ['neg', 'big']]);
    expect(units[0].sql).toContain('WITH bad AS MATERIALIZED (SELECT c."a" AS v0, c."b" AS v1 FROM "s"."C" c WHERE c."a" IS NOT NULL AND c."b" IS NOT NULL AND NOT EXISTS');
    expect(units[1].sql.match(/FROM "s"\."C"/g)!.length).toBe(1);
    expect(units[1].sql).toContain('count(*) FILTER (WHERE c1) AS n1');
    for (const u of units) expect(u.sql).not.toMatch(/NOT IN/i);
  });
});
