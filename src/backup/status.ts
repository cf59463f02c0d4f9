import type { AxisorConfig } from '../config/types.ts';
import { withClient } from '../db/connect.ts';
import { listCatalog } from './catalog.ts';
import { chainHead } from './incremental.ts';
import { serverInfo, tablesWithoutIdentity, listTables, unloggedTables } from './introspect.ts';
import { listSlots, logicalBlocker, slotPrefix, type SlotState } from './slots.ts';

export interface StatusResult {
  database: string;
  backupDir: string;
  walLevel: string;
  maxSlotWalKeepSize: string;
  incrementalReady: boolean;
  /** What stops incremental backups, with the fix. */
  blockers: Array<{ code: string; message: string; hint: string | null }>;
  chain: { root: string; head: string; headFinishedAt: string; length: number; slot: string } | null;
  slots: Array<SlotState & { inUse: boolean }>;
  backups: number;
  lastBackup: { id: string; type: string; finishedAt: string } | null;
}

/** `backup status`: the chain, its slot's lag and the WAL it retains (a stalled chain fills the disk). */
export async function backupStatus(config: AxisorConfig): Promise<StatusResult> {
  return withClient(config, async (c) => {
    const info = await serverInfo(c);
    const catalog = (await listCatalog(config.backupDir)).filter((e) => e.manifest?.database === info.database);
    const head = chainHead(catalog, info.database);
    const slots = await listSlots(c, slotPrefix(info.database, config.backupDir));
    const keep = (await c.query<{ v: string }>(`SELECT current_setting('max_slot_wal_keep_size') AS v`)).rows[0]!.v;
    const blockers: StatusResult['blockers'] = [];
    const b = logicalBlocker(info);
    if (b) blockers.push({ code: b.code, message: b.message, hint: b.hint ?? null });
    const tables = await listTables(c);
    const unlogged = unloggedTables(tables);
    if (unlogged.length > 0) blockers.push({ code: 'prerequisite.unlogged', message: `unlogged tables (their changes are not in the WAL): ${unlogged.join(', ')}`, hint: `ALTER TABLE ${unlogged[0]} SET LOGGED` });
    const noId = tablesWithoutIdentity(tables);
    if (noId.length > 0) blockers.push({ code: 'prerequisite.no_identity', message: `tables without a primary key or replica identity: ${noId.join(', ')}`, hint: `ALTER TABLE ${noId[0]} REPLICA IDENTITY FULL, or add a primary key` });
    const slot = head ? slots.find((s) => s.name === head.root.slot!.name) : undefined;
    if (!head) blockers.push({ code: 'prerequisite.no_chain', message: 'no full backup started an incremental chain', hint: 'axisor-db backup --type full' });
    else if (!slot || slot.walStatus === 'lost') blockers.push({ code: 'prerequisite.slot_lost', message: `the chain's slot ${head.root.slot!.name} is ${slot ? 'lost' : 'missing'}`, hint: 'axisor-db backup --type full' });
    const mine = catalog.filter((e) => e.manifest).map((e) => e.manifest!);
    const last = mine[mine.length - 1];
    return {
      database: info.database, backupDir: config.backupDir, walLevel: info.walLevel, maxSlotWalKeepSize: keep,
      incrementalReady: blockers.length === 0, blockers,
      chain: head ? { root: head.root.id, head: head.parent.id, headFinishedAt: head.parent.finishedAt, length: mine.filter((m) => m.chainRoot === head.root.id).length, slot: head.root.slot!.name } : null,
      slots: slots.map((s) => ({ ...s, inUse: s.name === head?.root.slot?.name })),
      backups: mine.length,
      lastBackup: last ? { id: last.id, type: last.type, finishedAt: last.finishedAt } : null,
    };
  }, { applicationName: 'axisor-db backup status' });
}
