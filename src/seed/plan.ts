import { hash4, Rng } from './random.ts';
import type { SeedSettings } from './options.ts';

const FIRST = ['Ana', 'Bruno', 'Carla', 'Diego', 'Elena', 'Felipe', 'Gabriela', 'Hugo', 'Isabela', 'João', 'Karin', 'Lucas', 'Mariana', 'Nicolas', 'Olivia',
  'Pedro', 'Quinn', 'Rafael', 'Sofia', 'Thiago', 'Ursula', 'Victor', 'Wen', 'Xavier', 'Yuki', 'Zoë', 'Amir', 'Chloé', 'Emma', 'Liam', 'Noah', 'Maya'] as const;
const LAST = ['Silva', 'Santos', 'Oliveira', 'Souza', 'Costa', 'Pereira', 'Almeida', 'Smith', 'Johnson', 'Müller', 'Schmidt', 'García', 'Martínez', 'Rossi',
  'Dubois', 'Nakamura', 'Kowalski', 'Novak', 'Jensen', 'Ferreira', 'Lopez', 'Kim', 'Chen', 'Patel'] as const;

const PLANS = [['FREE', 55], ['BASIC', 20], ['ADVANCED', 12], ['PRO', 10], ['LIFETIME', 3]] as const;
const DAY = 86_400_000;

/** Everything about user u that more than one table needs. Derived from (seed, u) alone. */
export interface UserPlan {
  u: number;
  firstName: string;
  lastName: string;
  emailSlug: string;
  plan: string;
  isActive: boolean;
  createdAt: number;
  accounts: number;
  /** Trades: pair p (OPEN at 2p, CLOSE at 2p+1) runs on account pairAccount[p] for automation pairAutomation[p] (-1 = manual). */
  tradeStart: number;
  tradeStep: number;
  /** execution_count and last_executed_at of each automation: exactly the trades that reference it. */
  automationCount: Int32Array;
  automationLast: Float64Array;
}

export function slug(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]/g, '');
}

/** Choices of trade pair p that both the Automation and the TradeLog generators need (stateless, so both agree). */
export function pairChoice(seed: number, u: number, p: number, accounts: number, automations: number): { account: number; automation: number } {
  const h = hash4(seed ^ 0x7ade, u, p, 0);
  const automation = automations > 0 && h % 10 < 7 ? (h >>> 8) % automations : -1;
  return { account: (h >>> 20) % accounts, automation };
}

/** Time of trade k of a user: evenly spread over the user's history, jittered within its slot, always before as-of. */
export function tradeTime(seed: number, plan: UserPlan, k: number): number {
  const jitter = hash4(seed ^ 0x71e, plan.u, k, 1) / 4294967296;
  return Math.floor(plan.tradeStart + (k + 0.05 + 0.9 * jitter) * plan.tradeStep);
}

export function planUser(s: SeedSettings, u: number): UserPlan {
  const r = new Rng(s.seed, 0x05e1, u);
  const firstName = r.pick(FIRST);
  const lastName = r.pick(LAST);
  // Sign-ups over the two years before as-of, more of them recently.
  const createdAt = Math.floor(s.asOf - (1 - Math.sqrt(r.next())) * 730 * DAY) - r.int(3_600_000, 3 * DAY);
  const accounts = r.weighted([[1, 70], [2, 25], [3, 5]] as const);
  const tradeStart = createdAt + r.int(1, 3) * DAY;
  const tradeStep = Math.max(1000, (s.asOf - 3_600_000 - tradeStart) / Math.max(1, s.tradesPerUser));
  const plan: UserPlan = {
    u,
    firstName,
    lastName,
    emailSlug: `${slug(firstName)}.${slug(lastName)}`,
    plan: r.weighted(PLANS),
    isActive: r.chance(0.95),
    createdAt,
    accounts,
    tradeStart,
    tradeStep,
    automationCount: new Int32Array(s.automationsPerUser),
    automationLast: new Float64Array(s.automationsPerUser),
  };
  for (let k = 0; k < s.tradesPerUser; k++) {
    const { automation } = pairChoice(s.seed, u, k >> 1, accounts, s.automationsPerUser);
    if (automation < 0) continue;
    plan.automationCount[automation]!++;
    plan.automationLast[automation] = tradeTime(s.seed, plan, k); // k ascends, so the last write is the latest
  }
  return plan;
}
