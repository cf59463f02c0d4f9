import { qualifiedName, quoteIdent } from '../db/ident.ts';
import type { Catalog } from './catalog.ts';
import { rowRule, setRule, type Check } from './checks.ts';

/** The plan types the design document allows (User.plan_type, Payment.plan_type). */
export const PLAN_TYPES = ['FREE', 'BASIC', 'ADVANCED', 'PRO', 'LIFETIME'] as const;
/** What `fix` sets an invalid User.plan_type to: the least privileged plan (the old value stays in quarantine). */
export const PLAN_TYPE_FIX_VALUE = 'FREE';

export interface SkippedRule {
  name: string;
  reason: string;
}

interface RuleDef {
  name: string;
  /** table -> columns the rule needs; the rule is skipped (and reported) if one is missing. */
  needs: Record<string, string[]>;
  build: (c: Catalog) => Check;
}

const planList = PLAN_TYPES.map((p) => `'${p}'`).join(', ');
const q = quoteIdent;

/**
 * The design document's rules plus the ones a DBA expects. Written against the data model's column names;
 * a rule whose table or column is missing is skipped and listed in the report, never silently dropped.
 */
const RULES: RuleDef[] = [
  {
    name: 'negative_trade_size',
    needs: { TradeLog: ['size'] },
    build: (c) => rowRule(c, { name: 'negative_trade_size', table: 'TradeLog', severity: 'error', description: 'trade size below 0', predicate: `t.${q('size')} < 0`, show: ['size'], fix: 'quarantine-delete' }),
  },
  {
    name: 'future_executed_at',
    needs: { TradeLog: ['executed_at'] },
    // now() is the transaction start: every check of a run sees the same instant.
    build: (c) => rowRule(c, { name: 'future_executed_at', table: 'TradeLog', severity: 'warn', description: 'trade executed_at in the future', predicate: `t.${q('executed_at')} > now()`, show: ['executed_at'] }),
  },
  {
    name: 'nonpositive_trade_price',
    needs: { TradeLog: ['price'] },
    build: (c) => rowRule(c, { name: 'nonpositive_trade_price', table: 'TradeLog', severity: 'error', description: 'trade price <= 0', predicate: `t.${q('price')} <= 0`, show: ['price'] }),
  },
  {
    name: 'invalid_plan_type',
    needs: { User: ['plan_type'] },
    build: (c) => rowRule(c, { name: 'invalid_plan_type', table: 'User', severity: 'error', description: `User.plan_type outside ${PLAN_TYPES.join('/')}`, predicate: `(t.${q('plan_type')} IS NULL OR t.${q('plan_type')} <> ALL (ARRAY[${planList}]))`, show: ['plan_type'], fix: 'set-plan-free' }),
  },
  {
    name: 'invalid_payment_plan_type',
    needs: { Payment: ['plan_type'] },
    // A payment is a financial record: reported, never rewritten by fix.
    build: (c) => rowRule(c, { name: 'invalid_payment_plan_type', table: 'Payment', severity: 'error', description: `Payment.plan_type outside ${PLAN_TYPES.join('/')}`, predicate: `(t.${q('plan_type')} IS NULL OR t.${q('plan_type')} <> ALL (ARRAY[${planList}]))`, show: ['plan_type'] }),
  },
  {
    name: 'notification_sent_before_created',
    needs: { Notification: ['sent_at', 'created_at'] },
    build: (c) => rowRule(c, { name: 'notification_sent_before_created', table: 'Notification', severity: 'warn', description: 'Notification.sent_at earlier than created_at', predicate: `t.${q('sent_at')} < t.${q('created_at')}`, show: ['created_at', 'sent_at'] }),
  },
  {
    name: 'valid_token_of_inactive_user',
    needs: { RefreshToken: ['user_id', 'revoked_at', 'expires_at'], User: ['id', 'is_active'] },
    build: (c) => rowRule(c, {
      name: 'valid_token_of_inactive_user', table: 'RefreshToken', severity: 'warn',
      description: 'unrevoked, unexpired refresh token of an inactive user',
      joins: [{ id: `User(id)=t(user_id)`, table: 'User', on: `{j}.${q('id')} = t.${q('user_id')}` }],
      predicate: `t.${q('revoked_at')} IS NULL AND t.${q('expires_at')} > now() AND {j0}.${q('is_active')} = false`,
      show: ['user_id', 'expires_at'],
    }),
  },
  {
    name: 'duplicate_email_ci',
    needs: { User: ['id', 'email'] },
    // Counts rows, not groups: every account that shares its lower-cased email with another one fails.
    build: (c) => setRule(c, {
      name: 'duplicate_email_ci', table: 'User', severity: 'error', description: 'email equal to another user\'s, ignoring case',
      sql: `SELECT d.${q('id')}, d.${q('email')} FROM (SELECT t.${q('id')}, t.${q('email')}, count(*) OVER (PARTITION BY lower(t.${q('email')})) AS n FROM ${qualifiedName(c.schema, 'User')} t WHERE t.${q('email')} IS NOT NULL) d WHERE d.n > 1`,
    }),
  },
  {
    name: 'execution_count_mismatch',
    needs: { Automation: ['id', 'execution_count'], TradeLog: ['automation_id'] },
    // Pre-aggregate then LEFT JOIN: one pass over TradeLog (or its automation_id index), not a count per automation.
    build: (c) => setRule(c, {
      name: 'execution_count_mismatch', table: 'Automation', severity: 'error', description: 'Automation.execution_count differs from its TradeLog row count',
      sql: `SELECT a.${q('id')}, a.${q('execution_count')}, coalesce(n.actual, 0) AS actual_count FROM ${qualifiedName(c.schema, 'Automation')} a LEFT JOIN (SELECT l.${q('automation_id')} AS automation_id, count(*) AS actual FROM ${qualifiedName(c.schema, 'TradeLog')} l WHERE l.${q('automation_id')} IS NOT NULL GROUP BY l.${q('automation_id')}) n ON n.automation_id = a.${q('id')} WHERE a.${q('execution_count')} IS DISTINCT FROM coalesce(n.actual, 0)`,
      fix: 'recount-executions',
      recheck: `t.${q('execution_count')} IS DISTINCT FROM ${executionCountOf(c.schema)}`,
    }),
  },
];

/** The true execution count of the Automation row aliased `t` (uses the TradeLog automation_id index). */
export function executionCountOf(schema: string): string {
  return `(SELECT count(*) FROM ${qualifiedName(schema, 'TradeLog')} l WHERE l.${q('automation_id')} = t.${q('id')})`;
}

export function ruleChecks(catalog: Catalog): { checks: Check[]; skipped: SkippedRule[] } {
  const checks: Check[] = [];
  const skipped: SkippedRule[] = [];
  for (const rule of RULES) {
    const missing = Object.entries(rule.needs).flatMap(([table, cols]) => {
      const t = catalog.tables.get(table);
      if (!t) return [`table ${table}`];
      return cols.filter((col) => !t.columns.includes(col)).map((col) => `column ${table}.${col}`);
    });
    if (missing.length) skipped.push({ name: rule.name, reason: `missing ${missing.join(', ')}` });
    else checks.push(rule.build(catalog));
  }
  return { checks, skipped };
}
