/**
 * The publication pgoutput decodes through; FOR ALL TABLES so a table created later is captured too. Backup creates
 * it (src/backup/slots.ts); restore never restores it (it belongs to the source's chain, not to its data).
 */
export const PUBLICATION = 'axisor_backup';
