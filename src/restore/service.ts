import { assertChainIntact } from '../backup/checksums.ts';
import { findBackup, findLatest, resolveChain } from '../backup/catalog.ts';
import { microsToIso, timestampMicros } from '../backup/changes.ts';
import type { Manifest } from '../backup/manifest.ts';
import type { AxisorConfig } from '../config/types.ts';
import { withClient, withDatabase } from '../db/connect.ts';
import { quoteIdent } from '../db/ident.ts';
import { NotFoundError, RefusedError, UsageError } from '../errors.ts';
import type { ProgressFn } from '../render/output.ts';
import { loadChain } from './load.ts';
import type { ReplayStats } from './replay.ts';
import { countUserObjects, createDatabase, databaseExists, dropDatabase, sideName } from './target.ts';

export interface RestoreOptions {
  id: string | null;
  latest: boolean;
  targetDb: string;
  clean: boolean;
  toTime: string | null;
  tables: string[];
  jobs: number;
  noOwner: boolean;
  maintenanceDb: string;
  env: Readonly<Record<string, string | undefined>>;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface RestoreResult {
  id: string;
  chain: string[];
  targetDb: string;
  replacedExisting: boolean;
  tables: Array<{ schema: string; name: string }>;
  toTime: string | null;
  replay: ReplayStats | null;
  droppedForeignKeys: number;
  checkedFiles: number;
  checkedBytes: number;
  durationMs: number;
}

/** schema.table or a bare name (looked up in the backup; must be unambiguous). */
export function resolveTables(m: Manifest, names: string[], defaultSchema: string): Set<string> | null {
  if (names.length === 0) return null;
  const all = m.tables.map((t) => `${t.schema}.${t.name}`);
  const out = new Set<string>();
  for (const n of names) {
    const hit = all.includes(n) ? n : all.includes(`${defaultSchema}.${n}`) ? `${defaultSchema}.${n}` : all.filter((a) => a.endsWith(`.${n}`)).length === 1 ? all.find((a) => a.endsWith(`.${n}`))! : null;
    if (!hit) throw new NotFoundError('table', `table ${n} is not in backup ${m.id}`, { hint: `choose among: ${all.slice(0, 20).join(', ')}` });
    out.add(hit);
  }
  return out;
}

/**
 * `axisor-db restore`: verify every checksum of the chain first, restore into a fresh side database, and only
 * when everything succeeded rename it to the target (dropping the old target with --clean). A failure at any
 * step drops the side database and leaves the target exactly as it was.
 */
export async function runRestore(config: AxisorConfig, o: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  if (!o.id && !o.latest) throw new UsageError('name a backup id, or pass --latest', { hint: 'axisor-db backup list shows the ids' });
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new UsageError(`--jobs must be a positive integer (got ${o.jobs})`);
  const picked = o.id ? await findBackup(config.backupDir, o.id) : await findLatest(config.backupDir, config.connection.database);
  let chain = await resolveChain(config.backupDir, picked.manifest.id);
  if (chain[0]!.manifest.type === 'schema-only' && chain.length > 1) throw new RefusedError('schema_chain', 'a schema-only backup cannot start a chain');
  let toTimeMicros: bigint | null = null;
  if (o.toTime) {
    try {
      toTimeMicros = timestampMicros(o.toTime);
    } catch {
      throw new UsageError(`--to-time '${o.toTime}' is not a timestamp`, { hint: "use ISO 8601, e.g. --to-time '2025-01-26T14:30:00Z'" });
    }
    const base = chain[0]!.manifest;
    if (toTimeMicros < timestampMicros(base.consistentAt)) {
      throw new RefusedError('to_time_before_backup', `--to-time ${o.toTime} is before backup ${base.id} was consistent (${base.consistentAt})`, { hint: 'restore an older chain, or a later --to-time' });
    }
    // Incrementals entirely after the target are not needed.
    const keep = chain.findIndex((l, i) => i > 0 && l.manifest.commitTimes?.first && timestampMicros(l.manifest.commitTimes.first) > toTimeMicros!);
    if (keep > 0) chain = chain.slice(0, keep);
  }
  const only = resolveTables(chain[0]!.manifest, o.tables, config.schema);
  o.onProgress?.({ phase: 'checksums', message: `${chain.length} backup(s)` });
  const reports = await assertChainIntact(chain, o.onProgress);

  return withClient(config, async (admin) => {
    const exists = await databaseExists(admin, o.targetDb);
    if (exists) {
      const objects = await withClient(withDatabase(config.connection, o.targetDb), countUserObjects, { applicationName: 'axisor-db restore' });
      if (objects > 0 && !o.clean) {
        throw new RefusedError('target_not_empty', `database ${o.targetDb} is not empty (${objects} relations)`, { hint: 'pass --clean to replace it (it is dropped only after the restore succeeded), or choose another --target-db' });
      }
    }
    const side = sideName(o.targetDb, 'restore');
    await createDatabase(admin, side, chain[0]!.manifest.encoding);
    let loaded;
    try {
      loaded = await loadChain(side, chain, { config, env: o.env, jobs: o.jobs, only, toTimeMicros, noOwner: o.noOwner, onProgress: o.onProgress, signal: o.signal });
      o.onProgress?.({ phase: 'swap', message: o.targetDb });
      if (exists) {
        const old = sideName(o.targetDb, 'old');
        await admin.query(`ALTER DATABASE ${quoteIdent(o.targetDb)} RENAME TO ${quoteIdent(old)}`).catch((err) => {
          throw new RefusedError('target_busy', `cannot replace ${o.targetDb}: ${(err as Error).message}`, { hint: 'disconnect its sessions (applications, psql) and retry; the target was not changed' });
        });
        try {
          await admin.query(`ALTER DATABASE ${quoteIdent(side)} RENAME TO ${quoteIdent(o.targetDb)}`);
        } catch (err) {
          await admin.query(`ALTER DATABASE ${quoteIdent(old)} RENAME TO ${quoteIdent(o.targetDb)}`).catch(() => {});
          throw err;
        }
        await dropDatabase(admin, old);
      } else {
        await admin.query(`ALTER DATABASE ${quoteIdent(side)} RENAME TO ${quoteIdent(o.targetDb)}`);
      }
    } catch (err) {
      await dropDatabase(admin, side).catch(() => {});
      throw err;
    }
    const m = chain[0]!.manifest;
    return {
      id: chain[chain.length - 1]!.manifest.id, chain: chain.map((l) => l.manifest.id), targetDb: o.targetDb, replacedExisting: exists,
      tables: m.tables.filter((t) => !only || only.has(`${t.schema}.${t.name}`)).map((t) => ({ schema: t.schema, name: t.name })),
      toTime: toTimeMicros === null ? null : microsToIso(toTimeMicros), replay: loaded.replay, droppedForeignKeys: loaded.droppedForeignKeys,
      checkedFiles: reports.reduce((s, r) => s + r.files, 0), checkedBytes: reports.reduce((s, r) => s + r.bytes, 0), durationMs: Date.now() - started,
    };
  }, { applicationName: 'axisor-db restore', statementTimeoutMs: 0, database: o.maintenanceDb });
}
