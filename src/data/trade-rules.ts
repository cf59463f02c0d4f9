/** Allowed values of the text enumerations the trade path writes (docs/data-model.md, "Text enumerations"). */
export const TRADE_TYPES = ['OPEN', 'CLOSE', 'ADD_MARGIN', 'CASH_IN', 'CANCEL', 'LIQUIDATION'] as const;
export const TRADE_SIDES = ['BUY', 'SELL'] as const;
export const TRADE_STATUSES = ['PENDING', 'FILLED', 'PARTIALLY_FILLED', 'CANCELLED', 'REJECTED', 'FAILED'] as const;

/**
 * Notification type and template of a trade. The design document builds `trade_${type}_template`, which gives
 * ids no template has ('trade_open_template'); the seeded templates are `trade_opened_template` / `trade_closed_template`.
 */
export function tradeNotification(tradeType: string): { type: string; templateId: string } {
  switch (tradeType) {
    case 'OPEN':
      return { type: 'TRADE_OPENED', templateId: 'trade_opened_template' };
    case 'CLOSE':
    case 'CASH_IN':
      return { type: 'TRADE_CLOSED', templateId: 'trade_closed_template' };
    case 'ADD_MARGIN':
      return { type: 'MARGIN_GUARD_TRIGGERED', templateId: 'margin_guard_triggered_template' };
    case 'LIQUIDATION':
      return { type: 'MARGIN_ALERT', templateId: 'margin_alert_template' };
    default:
      return { type: 'AUTOMATION_EXECUTED', templateId: 'automation_executed_template' };
  }
}
