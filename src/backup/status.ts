import type { ServiceContext } from '../service.ts';
import { withClient } from '../db/connect.ts';
import { listCatalog } from '../archive/catalog.ts';
import { chainHead } from './incremental.ts';
import { serverInfo, tablesWithoutIdentity, listTables, unloggedTables } from './introspect.ts';
import { listServerSlots, logicalBlocker, publicationBlocker, slotPrefix, type SlotState } from './slots.ts';

export interface StatusResult {
  database: string;
  backupDir: string;
  walLevel: string;
  maxSlotWalKeepSize: string;
  incrementalReady: boolean;
  /** What stops incremental backups, with the fix. */
  blockers: Array<{ code: string; message: string; hint: string | null }>;
  chain: { root: string; head: string; headFinishedAt: string; length: number; slot: string } | null;
  /** Every axisor-db slot on the server (all databases, all backup directories). */
  slots: StatusSlot[];
  /** A slot retaining more WAL than this is warned about. */
  retainedWarnBytes: number;
  warnings: string[];
  backups: number;
  lastBackup: { id: string; type: string; finishedAt: string } | null;
}

export const RETAINED_WARN_BYTES = 1024 ** 3;

export interface StatusSlot extends SlotState {
  database: string | null;
  /** This directory's chain slot. */
  inUse: boolean;
  /**
   * chain: the slot this directory's chain reads; backup-running: the temporary slot of a full backup in progress;
   * old-chain: this directory's, no longer used (the next backup drops it); other: another database or backup
   * directory (a live chain there, or left by a deleted backup directory).
   */
  role: 'chain' | 'backup-running' | 'old-chain' | 'other';
  /** How to drop it, when it is not this directory's chain nor a running backup. */
  dropSql: string | null;
}

/** `backup status`: the chain, its slot's lag and the WAL it retains (a stalled chain fills the disk). */
export async function backupStatus(_input: Record<string, never>, ctx: ServiceContext): Promise<StatusResult> {
  const config = ctx.config;
  return withClient(config, async (c) => {
    const info = await serverInfo(c);
    const catalog = (await listCatalog(config.backupDir)).filter((e) => e.manifest?.database === info.database);
    const head = chainHead(catalog, info.database);
    const prefix = slotPrefix(info.database, config.backupDir);
    const serverSlots = await listServerSlots(c);
    const keep = (await c.query<{ v: string }>(`SELECT current_setting('max_slot_wal_keep_size') AS v`)).rows[0]!.v;
    const blockers: StatusResult['blockers'] = [];
    const b = logicalBlocker(info);
    if (b) blockers.push({ code: b.code, message: b.message, hint: b.hint ?? null });
    const tables = await listTables(c);
    const unlogged = unloggedTables(tables);
    if (unlogged.length > 0) blockers.push({ code: 'prerequisite.unlogged', message: `unlogged tables (their changes are not in the WAL): ${unlogged.join(', ')}`, hint: `ALTER TABLE ${unlogged[0]} SET LOGGED` });
    const noId = tablesWithoutIdentity(tables);
    if (noId.length > 0) blockers.push({ code: 'prerequisite.no_identity', message: `tables without a primary key or replica identity: ${noId.join(', ')}`, hint: `ALTER TABLE ${noId[0]} REPLICA IDENTITY FULL, or add a primary key` });
    if (!b) {
      const pub = await publicationBlocker(c, info.database, false);
      if (pub && (pub.code !== 'prerequisite.publication' || head)) blockers.push({ code: pub.code, message: pub.message, hint: pub.hint ?? null });
    }
    const slot = head ? serverSlots.find((s) => s.name === head.root.slot!.name && s.database === info.database) : undefined;
    if (!head) blockers.push({ code: 'prerequisite.no_chain', message: 'no full backup started an incremental chain', hint: 'axisor-db backup --type full' });
    else if (!slot || slot.walStatus === 'lost') blockers.push({ code: 'prerequisite.slot_lost', message: `the chain's slot ${head.root.slot!.name} is ${slot ? 'lost' : 'missing'}`, hint: 'axisor-db backup --type full' });
    const slots: StatusSlot[] = serverSlots.map((s) => {
      const inUse = s.database === info.database && s.name === head?.root.slot?.name;
      const role: StatusSlot['role'] = inUse ? 'chain' : s.temporary ? 'backup-running' : s.database === info.database && s.name.startsWith(prefix) ? 'old-chain' : 'other';
      return { ...s, inUse, role, dropSql: role === 'chain' || role === 'backup-running' ? null : `SELECT pg_drop_replication_slot('${s.name}');` };
    });
    const warnings: string[] = [];
    for (const s of slots) {
      if ((s.retainedBytes ?? 0) > RETAINED_WARN_BYTES) {
        warnings.push(`slot ${s.name} (database ${s.database}, ${s.role}) retains ${(s.retainedBytes! / 1024 ** 2).toFixed(0)} MB of WAL` +
          (s.role === 'chain' ? '; run an incremental backup to release it' : `; if no backup directory's chain uses it (\`axisor-db backup status --backup-dir <dir>\` shows its chain slot), drop it: ${s.dropSql}`));
      }
    }
    if (keep === '-1' && slots.length > 0) warnings.push('max_slot_wal_keep_size = -1: a forgotten slot can fill the disk; set it (ALTER SYSTEM SET max_slot_wal_keep_size = \'10GB\'; SELECT pg_reload_conf();)');
    const mine = catalog.filter((e) => e.manifest).map((e) => e.manifest!);
    const last = mine[mine.length - 1];
    return {
      database: info.database, backupDir: config.backupDir, walLevel: info.walLevel, maxSlotWalKeepSize: keep,
      incrementalReady: blockers.length === 0, blockers,
      chain: head ? { root: head.root.id, head: head.parent.id, headFinishedAt: head.parent.finishedAt, length: mine.filter((m) => m.chainRoot === head.root.id).length, slot: head.root.slot!.name } : null,
      slots, retainedWarnBytes: RETAINED_WARN_BYTES, warnings,
      backups: mine.length,
      lastBackup: last ? { id: last.id, type: last.type, finishedAt: last.finishedAt } : null,
    };
  }, { applicationName: 'axisor-db backup status' });
}
