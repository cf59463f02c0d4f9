import type { BinaryCopyEncoder } from '../binary-copy.ts';
import { CHILD_SLOTS } from '../ids.ts';
import type { UserPlan } from '../plan.ts';
import { Rng } from '../random.ts';
import type { SeedContext, SeedTable } from './types.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TIMEZONES = ['UTC', 'America/Sao_Paulo', 'America/New_York', 'Europe/Lisbon', 'Europe/Berlin', 'Asia/Tokyo'] as const;
const LANGS = [['en-US', 60], ['pt-BR', 30], ['es-ES', 10]] as const;
const EXCHANGES = ['LN_MARKETS', 'BITMEX', 'BYBIT', 'DERIBIT', 'BINANCE'] as const;
const LABELS = ['main', 'hedge', 'bot'] as const;

export const userTable: SeedTable = {
  name: 'User',
  columns: ['id', 'email', 'password_hash', 'first_name', 'last_name', 'phone', 'timezone', 'language', 'currency', 'is_active', 'is_verified', 'is_admin',
    'plan_type', 'created_at', 'updated_at', 'last_login_at', 'email_verified_at', 'two_factor_enabled', 'two_factor_secret', 'failed_login_attempts', 'locked_until'],
  write(e: BinaryCopyEncoder, p: UserPlan, { s, ids }: SeedContext): number {
    const r = new Rng(s.seed, 0x05e2, p.u);
    const lang = r.weighted(LANGS);
    const verified = r.chance(0.85);
    const twoFactor = r.chance(0.2);
    const lastLogin = p.isActive ? s.asOf - r.int(HOUR, 30 * DAY) : null;
    const failed = r.chance(0.03) ? r.int(1, 4) : 0;
    e.row(21);
    e.text(ids.id('User', p.u));
    // The seed tag keeps emails unique across --append runs with different seeds.
    e.text(`${p.emailSlug}.${p.u}.${ids.seedTag}@example.com`);
    // Shaped like an argon2id hash so the length and format are realistic; it verifies no password.
    e.text(r.chance(0.97) ? `$argon2id$v=19$m=65536,t=3,p=4$${Buffer.from(r.hex(32), 'hex').toString('base64url')}$${Buffer.from(r.hex(64), 'hex').toString('base64url')}` : null);
    e.text(p.firstName);
    e.text(p.lastName);
    e.text(r.chance(0.4) ? `+55${r.int(11, 99)}9${r.int(10_000_000, 99_999_999)}` : null);
    e.text(r.pick(TIMEZONES));
    e.text(lang);
    e.text(lang === 'pt-BR' ? 'BRL' : 'USD');
    e.bool(p.isActive);
    e.bool(verified);
    e.bool(p.u === 0);
    e.text(p.plan);
    e.timestamptz(p.createdAt);
    e.timestamptz(lastLogin ?? p.createdAt + HOUR);
    e.timestamptz(lastLogin);
    e.timestamptz(verified ? p.createdAt + r.int(60_000, DAY) : null);
    e.bool(twoFactor);
    e.text(twoFactor ? `v1:${r.hex(48)}` : null);
    e.int4(failed);
    e.timestamptz(null);
    return 1;
  },
};

export const preferencesTable: SeedTable = {
  name: 'UserPreferences',
  columns: ['id', 'user_id', 'theme', 'email_notifications', 'push_notifications', 'sms_notifications', 'in_app_notifications', 'notification_preferences',
    'default_leverage', 'risk_tolerance', 'dashboard_layout', 'created_at', 'updated_at'],
  write(e, p, { s, ids }) {
    const r = new Rng(s.seed, 0x05e3, p.u);
    e.row(13);
    e.text(ids.id('UserPreferences', p.u));
    e.text(ids.id('User', p.u));
    e.text(r.weighted([['SYSTEM', 50], ['DARK', 40], ['LIGHT', 10]] as const));
    e.bool(r.chance(0.9));
    e.bool(r.chance(0.7));
    e.bool(r.chance(0.1));
    e.bool(true);
    e.jsonb(`{"TRADE_CLOSED":["PUSH","IN_APP"],"MARGIN_ALERT":["EMAIL","PUSH","IN_APP"]}`);
    e.numeric(r.pick([1, 2, 5, 10, 10, 20, 25]) * 100, 2);
    e.text(r.weighted([['LOW', 25], ['MEDIUM', 55], ['HIGH', 20]] as const));
    e.jsonb(r.chance(0.5) ? '{}' : '{"widgets":["positions","pnl","margin"]}');
    e.timestamptz(p.createdAt);
    e.timestamptz(p.createdAt);
    return 1;
  },
};

export const exchangeAccountTable: SeedTable = {
  name: 'UserExchangeAccount',
  columns: ['id', 'user_id', 'exchange_name', 'label', 'api_key_encrypted', 'api_secret_encrypted', 'api_passphrase_encrypted', 'encryption_key_version',
    'is_testnet', 'is_active', 'last_verified_at', 'last_used_at', 'created_at', 'updated_at'],
  write(e, p, { s, ids }) {
    const r = new Rng(s.seed, 0x05e4, p.u);
    for (let j = 0; j < p.accounts; j++) {
      const created = p.createdAt + (j + 1) * HOUR;
      e.row(14);
      e.text(ids.id('UserExchangeAccount', p.u * CHILD_SLOTS + j));
      e.text(ids.id('User', p.u));
      e.text(j === 0 ? 'LN_MARKETS' : r.pick(EXCHANGES));
      e.text(LABELS[j]!);
      // Envelope-encryption ciphertexts (key version prefix + base64); never real keys.
      e.text(`v2:${Buffer.from(r.hex(48), 'hex').toString('base64')}`);
      e.text(`v2:${Buffer.from(r.hex(64), 'hex').toString('base64')}`);
      e.text(r.chance(0.3) ? `v2:${Buffer.from(r.hex(32), 'hex').toString('base64')}` : null);
      e.int4(2);
      e.bool(j === 2);
      e.bool(true);
      e.timestamptz(created + 60_000);
      e.timestamptz(s.asOf - r.int(HOUR, 10 * DAY));
      e.timestamptz(created);
      e.timestamptz(created);
    }
    return p.accounts;
  },
};

/** The user's default config (no account, as registerUser creates it), plus one for the main account for some users. */
export const marginGuardTable: SeedTable = {
  name: 'MarginGuardConfig',
  columns: ['id', 'user_id', 'exchange_account_id', 'is_active', 'action', 'margin_threshold', 'add_margin_percentage', 'max_daily_add_margin',
    'max_daily_actions', 'cooldown_minutes', 'notify_on_trigger', 'settings', 'trigger_count', 'last_triggered_at', 'created_at', 'updated_at'],
  write(e, p, { s, ids }) {
    const r = new Rng(s.seed, 0x05e5, p.u);
    const n = r.chance(0.3) ? 2 : 1;
    for (let j = 0; j < n; j++) {
      const triggers = j === 1 ? r.int(0, 12) : 0;
      e.row(16);
      e.text(ids.id('MarginGuardConfig', p.u * CHILD_SLOTS + j));
      e.text(ids.id('User', p.u));
      e.text(j === 0 ? null : ids.id('UserExchangeAccount', p.u * CHILD_SLOTS));
      e.bool(j === 1 || r.chance(0.5));
      e.text(j === 0 ? 'ADD_MARGIN' : r.pick(['ADD_MARGIN', 'ALERT_ONLY', 'REDUCE_POSITION', 'CLOSE_POSITION']));
      e.numeric(r.pick([10, 15, 20, 25, 30]) * 100, 2);
      e.numeric(r.pick([10, 20, 25, 50]) * 100, 2);
      e.numeric(r.chance(0.5) ? r.int(5, 50) * 1_000_000 : null, 8); // 0.05-0.5 BTC
      e.int4(r.int(1, 5));
      e.int4(r.pick([5, 15, 30, 60]));
      e.bool(true);
      e.jsonb('{}');
      e.int4(triggers);
      e.timestamptz(triggers > 0 ? s.asOf - r.int(HOUR, 60 * DAY) : null);
      e.timestamptz(p.createdAt);
      e.timestamptz(p.createdAt);
    }
    return n;
  },
};

export const refreshTokenTable: SeedTable = {
  name: 'RefreshToken',
  columns: ['id', 'user_id', 'token_hash', 'family_id', 'expires_at', 'revoked_at', 'revoked_reason', 'last_used_at', 'ip_address', 'user_agent', 'created_at'],
  write(e, p, { s, ids }) {
    if (!p.isActive) return 0;
    const r = new Rng(s.seed, 0x05e6, p.u);
    const n = r.int(1, 2);
    for (let j = 0; j < n; j++) {
      const created = s.asOf - r.int(HOUR, 20 * DAY);
      const revoked = j === 0 && n === 2;
      e.row(11);
      e.text(ids.id('RefreshToken', p.u * CHILD_SLOTS + j));
      e.text(ids.id('User', p.u));
      e.text(r.hex(64)); // SHA-256 hex of a token that never existed
      e.text(ids.id('TokenFamily', p.u));
      e.timestamptz(created + 30 * DAY);
      e.timestamptz(revoked ? created + DAY : null);
      e.text(revoked ? 'ROTATED' : null);
      e.timestamptz(created + r.int(0, DAY));
      e.text(`203.0.113.${r.int(1, 254)}`); // TEST-NET-3
      e.text(r.pick(['Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Safari/604.1', 'Axisor/2.3 (Android 14)']));
      e.timestamptz(created);
    }
    return n;
  },
};
