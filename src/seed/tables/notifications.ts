import { CHILD_SLOTS } from '../ids.ts';
import { Rng } from '../random.ts';
import type { UserPlan } from '../plan.ts';
import type { SeedContext, SeedTable } from './types.ts';

const HOUR = 3_600_000;
const KINDS = [
  ['TRADE_CLOSED', 'trade_closed_template', 35], ['TRADE_OPENED', 'trade_opened_template', 30], ['MARGIN_ALERT', 'margin_alert_template', 12],
  ['MARGIN_GUARD_TRIGGERED', 'margin_guard_triggered_template', 8], ['AUTOMATION_EXECUTED', 'automation_executed_template', 10],
  ['SECURITY_ALERT', 'security_alert_template', 5],
] as const;
const STATUS = [['READ', 50], ['DELIVERED', 20], ['SENT', 15], ['PENDING', 10], ['FAILED', 5]] as const;

interface NotificationDraft {
  ordinal: number;
  type: string;
  template: string;
  status: string;
  channels: readonly string[];
  createdAt: number;
  automation: number; // -1 = none
  marginGuard: boolean;
}

/** Notification j of a user, from its own stream: the Notification and NotificationDelivery generators agree on it. */
function draft(p: UserPlan, j: number, { s }: SeedContext): NotificationDraft {
  const r = new Rng(s.seed, 0x0b01, p.u, j);
  const ordinal = p.u * s.notificationsPerUser + j;
  if (j === 0) {
    return { ordinal, type: 'WELCOME', template: 'welcome_template', status: r.chance(0.8) ? 'READ' : 'DELIVERED', channels: ['EMAIL', 'IN_APP'], createdAt: p.createdAt + 1000, automation: -1, marginGuard: false };
  }
  const kind = r.weighted(KINDS.map(([t, tpl, w]) => [[t, tpl] as const, w] as const));
  const type = kind[0];
  const automated = type !== 'SECURITY_ALERT' && s.automationsPerUser > 0 && r.chance(0.6);
  const createdAt = p.createdAt + Math.floor(r.next() * (s.asOf - HOUR - p.createdAt));
  return {
    ordinal,
    type,
    template: kind[1],
    status: r.weighted(STATUS),
    channels: type === 'SECURITY_ALERT' ? ['EMAIL', 'PUSH'] : type.startsWith('MARGIN') ? ['EMAIL', 'PUSH', 'IN_APP'] : ['PUSH', 'IN_APP'],
    createdAt,
    automation: automated ? r.int(0, s.automationsPerUser - 1) : -1,
    marginGuard: type.startsWith('MARGIN'),
  };
}

export const notificationTable: SeedTable = {
  name: 'Notification',
  columns: ['id', 'user_id', 'automation_id', 'margin_guard_config_id', 'type', 'priority', 'channels', 'template_id', 'variables', 'metadata', 'status',
    'created_at', 'updated_at', 'scheduled_at', 'sent_at', 'read_at', 'expires_at'],
  write(e, p, ctx) {
    const { ids } = ctx;
    for (let j = 0; j < ctx.s.notificationsPerUser; j++) {
      const d = draft(p, j, ctx);
      const sent = d.status !== 'PENDING' && d.status !== 'FAILED';
      e.row(17);
      e.text(ids.id('Notification', d.ordinal));
      e.text(ids.id('User', p.u));
      e.text(d.automation < 0 ? null : ids.id('Automation', p.u * CHILD_SLOTS + d.automation));
      e.text(d.marginGuard ? ids.id('MarginGuardConfig', p.u * CHILD_SLOTS) : null);
      e.text(d.type);
      e.text(d.type === 'MARGIN_ALERT' ? 'URGENT' : d.type === 'SECURITY_ALERT' ? 'HIGH' : 'NORMAL');
      e.jsonb(JSON.stringify(d.channels));
      e.text(d.template);
      e.jsonb(d.type === 'WELCOME' ? JSON.stringify({ user_name: p.firstName }) : '{"symbol":"BTCUSD"}');
      e.jsonb('{}');
      e.text(d.status);
      e.timestamptz(d.createdAt);
      e.timestamptz(sent ? d.createdAt + 2000 : d.createdAt);
      e.timestamptz(null);
      e.timestamptz(sent ? d.createdAt + 2000 : null);
      e.timestamptz(d.status === 'READ' ? d.createdAt + HOUR : null);
      e.timestamptz(d.createdAt + 30 * 24 * HOUR);
    }
    return ctx.s.notificationsPerUser;
  },
};

/** One delivery per channel of every notification that was attempted (not PENDING). */
export const deliveryTable: SeedTable = {
  name: 'NotificationDelivery',
  columns: ['id', 'notification_id', 'channel', 'status', 'provider', 'provider_message_id', 'attempt_count', 'last_error', 'next_attempt_at', 'sent_at',
    'delivered_at', 'failed_at', 'created_at', 'updated_at'],
  write(e, p, ctx) {
    const { ids } = ctx;
    let n = 0;
    for (let j = 0; j < ctx.s.notificationsPerUser; j++) {
      const d = draft(p, j, ctx);
      if (d.status === 'PENDING') continue;
      const failed = d.status === 'FAILED';
      for (let c = 0; c < d.channels.length; c++) {
        const ch = d.channels[c]!;
        e.row(14);
        e.text(ids.id('NotificationDelivery', d.ordinal * 4 + c));
        e.text(ids.id('Notification', d.ordinal));
        e.text(ch);
        e.text(failed ? 'FAILED' : d.status === 'SENT' ? 'SENT' : 'DELIVERED');
        e.text(ch === 'EMAIL' ? 'SES' : ch === 'PUSH' ? 'FCM' : ch === 'IN_APP' ? 'WEBSOCKET' : 'TWILIO');
        e.text(ids.id('ProviderMessage', d.ordinal * 4 + c));
        e.int4(failed ? 3 : 1);
        e.text(failed ? 'provider timeout' : null);
        e.timestamptz(null);
        e.timestamptz(failed ? null : d.createdAt + 2000);
        e.timestamptz(failed || d.status === 'SENT' ? null : d.createdAt + 5000);
        e.timestamptz(failed ? d.createdAt + 600_000 : null);
        e.timestamptz(d.createdAt + 1000);
        e.timestamptz(d.createdAt + (failed ? 600_000 : 5000));
        n++;
      }
    }
    return n;
  },
};

/** The templates the services reference (ids are the slugs Notification.template_id holds). Not per user. */
export const TEMPLATES: ReadonlyArray<readonly [id: string, type: string, subject: string, content: string]> = [
  ['welcome_template', 'WELCOME', 'Welcome to Axisor', 'Welcome {{user_name}}! Your account is ready.'],
  ['trade_opened_template', 'TRADE_OPENED', 'Position opened', '{{side}} {{size}} {{symbol}} at {{price}}'],
  ['trade_closed_template', 'TRADE_CLOSED', 'Position closed', '{{symbol}} closed at {{price}}, PnL {{pnl}}'],
  ['margin_alert_template', 'MARGIN_ALERT', 'Margin alert', 'Your {{symbol}} position is close to liquidation'],
  ['margin_guard_triggered_template', 'MARGIN_GUARD_TRIGGERED', 'Margin guard triggered', 'Margin guard added margin to your {{symbol}} position'],
  ['automation_executed_template', 'AUTOMATION_EXECUTED', 'Automation executed', 'Automation {{automation_name}} ran'],
  ['security_alert_template', 'SECURITY_ALERT', 'New sign-in', 'New sign-in to your account from {{ip_address}}'],
  ['payment_received_template', 'PAYMENT_RECEIVED', 'Payment received', 'Thank you! Your {{plan_type}} plan is active.'],
];
