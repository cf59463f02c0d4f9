import { paymentTable } from './billing.ts';
import { deliveryTable, notificationTable } from './notifications.ts';
import { automationTable, simulationResultTable, simulationTable, tradeLogTable } from './trading.ts';
import { exchangeAccountTable, marginGuardTable, preferencesTable, refreshTokenTable, userTable } from './users.ts';
import type { SeedTable } from './types.ts';

/** Parents before children, so the tables can also be loaded with their foreign keys in place (--append). */
export const SEED_TABLES: readonly SeedTable[] = [
  userTable,
  preferencesTable,
  exchangeAccountTable,
  marginGuardTable,
  refreshTokenTable,
  automationTable,
  simulationTable,
  simulationResultTable,
  paymentTable,
  notificationTable,
  deliveryTable,
  tradeLogTable,
];

export { TEMPLATES } from './notifications.ts';
export type { SeedTable, SeedContext } from './types.ts';
