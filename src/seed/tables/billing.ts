import { CHILD_SLOTS } from '../ids.ts';
import { Rng } from '../random.ts';
import type { SeedTable } from './types.ts';

const DAY = 86_400_000;
/** Monthly price in USD cents per plan; LIFETIME is a one-off. */
const PRICE: Record<string, number> = { BASIC: 1900, ADVANCED: 4900, PRO: 9900, LIFETIME: 99900 };

/** Paying users (plan other than FREE) have 1-3 payments; the latest is PAID. */
export const paymentTable: SeedTable = {
  name: 'Payment',
  columns: ['id', 'user_id', 'amount', 'currency', 'status', 'provider', 'provider_ref', 'plan_type', 'billing_cycle', 'description', 'payment_request',
    'failure_reason', 'metadata', 'expires_at', 'paid_at', 'refunded_at', 'created_at', 'updated_at'],
  write(e, p, { s, ids }) {
    if (p.plan === 'FREE') return 0;
    const r = new Rng(s.seed, 0x0c01, p.u);
    const n = p.plan === 'LIFETIME' ? 1 : r.int(1, 3);
    for (let j = 0; j < n; j++) {
      const ordinal = p.u * CHILD_SLOTS + j;
      const provider = r.weighted([['LIGHTNING', 50], ['BTCPAY', 20], ['STRIPE', 30]] as const);
      const status = j === n - 1 ? 'PAID' : r.weighted([['PAID', 70], ['EXPIRED', 20], ['FAILED', 10]] as const);
      const created = s.asOf - (n - j) * 30 * DAY + r.int(0, DAY);
      const cycle = p.plan === 'LIFETIME' ? 'LIFETIME' : 'MONTHLY';
      e.row(18);
      e.text(ids.id('Payment', ordinal));
      e.text(ids.id('User', p.u));
      // Amount in USD (cents -> 1e-8 units).
      e.numeric(PRICE[p.plan]! * 1_000_000, 8);
      e.text('USD');
      e.text(status);
      e.text(provider);
      e.text(`${provider.toLowerCase()}_${ids.seedTag}${ordinal.toString(16).padStart(10, '0')}`);
      e.text(p.plan);
      e.text(cycle);
      e.text(`Axisor ${p.plan} (${cycle.toLowerCase()})`);
      e.text(provider === 'LIGHTNING' ? `lnbc${r.int(10, 999)}u1p${r.hex(40)}` : null);
      e.text(status === 'FAILED' ? 'card_declined' : null);
      e.jsonb('{}');
      e.timestamptz(created + (provider === 'LIGHTNING' ? 3_600_000 : DAY));
      e.timestamptz(status === 'PAID' ? created + r.int(5_000, 600_000) : null);
      e.timestamptz(null);
      e.timestamptz(created);
      e.timestamptz(created + 600_000);
    }
    return n;
  },
};
