import type { AxisorConfig } from '../config/types.ts';
import { withClient, withDatabase } from '../db/connect.ts';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { AxisorError } from '../errors.ts';
import { findPgTool } from '../pgtools/index.ts';
import type { ProgressFn } from '../render/output.ts';
import { loadChain } from '../restore/load.ts';
import { createDatabase, dropDatabase, sideName } from '../restore/target.ts';
import { findBackup, resolveChain } from './catalog.ts';
import { checkFiles } from './checksums.ts';
import { copySessionEnv, hashTableChunks } from './copy-stream.ts';
import type { TableEntry } from './manifest.ts';

export interface VerifyOptions {
  id: string;
  drill: boolean;
  jobs: number;
  maintenanceDb: string;
  env: Readonly<Record<string, string | undefined>>;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface TableCheck {
  schema: string;
  name: string;
  expectedRows: number;
  rows: number | null;
  /** null when not compared (chains: replay reorders rows physically; rows and replay exactness are checked instead). */
  contentMatches: boolean | null;
  ok: boolean;
}

export interface VerifyResult {
  id: string;
  chain: string[];
  ok: boolean;
  checksums: { ok: boolean; files: number; bytes: number; bad: Array<{ backup: string; path: string; problem: string }> };
  drill: { ran: boolean; ok: boolean; database: string | null; error: string | null; tables: TableCheck[]; replayedTransactions: number | null } ;
  durationMs: number;
}

/**
 * `backup verify`: every file's sha256 against the manifest (the whole chain), then a restore drill into a
 * scratch database that must reproduce each table's row count and, for a full backup, the exact content hash of
 * every data stream. The scratch database is always dropped.
 */
export async function verifyBackup(config: AxisorConfig, o: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  await findBackup(config.backupDir, o.id);
  const chain = await resolveChain(config.backupDir, o.id);
  const bad: VerifyResult['checksums']['bad'] = [];
  let files = 0;
  let bytes = 0;
  for (const link of chain) {
    const r = await checkFiles(link.dir, link.manifest, o.onProgress);
    files += r.files;
    bytes += r.bytes;
    for (const b of r.bad) bad.push({ backup: r.id, ...b });
  }
  const result: VerifyResult = {
    id: o.id, chain: chain.map((l) => l.manifest.id), ok: bad.length === 0,
    checksums: { ok: bad.length === 0, files, bytes, bad },
    drill: { ran: false, ok: false, database: null, error: null, tables: [], replayedTransactions: null }, durationMs: 0,
  };
  if (!result.ok || !o.drill) {
    result.drill.ok = !o.drill && result.ok;
    result.durationMs = Date.now() - started;
    return result;
  }
  const last = chain[chain.length - 1]!.manifest;
  const content = new Map<string, boolean>();
  const psql = await findPgTool('psql', { env: o.env });
  await withClient(config, async (admin) => {
    const scratch = sideName('axisor_verify', last.database.replace(/[^a-z0-9_]/gi, '').slice(0, 20) || 'db');
    result.drill.ran = true;
    result.drill.database = scratch;
    await createDatabase(admin, scratch, chain[0]!.manifest.encoding);
    try {
      const afterData = chain.length === 1
        ? async (db: string, tables: TableEntry[]) => {
          const conn = withDatabase(config.connection, db);
          const env = copySessionEnv(o.env, chain[0]!.manifest.encoding);
          for (const t of tables) {
            if (t.chunks.length === 0) continue;
            const got = await hashTableChunks({ psql, conn, env, copySql: `COPY ${qualifiedName(t.schema, t.name)} (${t.columns.map(quoteIdent).join(', ')}) TO STDOUT`, chunkRows: t.chunks.map((c) => c.rows) });
            content.set(`${t.schema}.${t.name}`, got.contentSha256.every((h, i) => h === t.chunks[i]!.contentSha256));
          }
        }
        : undefined;
      const loaded = await loadChain(scratch, chain, { config, env: o.env, jobs: o.jobs, only: null, toTimeMicros: null, noOwner: true, preserveOrder: chain.length === 1, afterData, onProgress: o.onProgress, signal: o.signal });
      result.drill.replayedTransactions = loaded.replay?.transactions ?? null;
      await withClient(withDatabase(config.connection, scratch), async (c) => {
        for (const t of last.tables) {
          const rows = Number((await c.query(`SELECT count(*) AS n FROM ONLY ${qualifiedName(t.schema, t.name)}`)).rows[0].n);
          const key = `${t.schema}.${t.name}`;
          const cm = content.has(key) ? content.get(key)! : null;
          result.drill.tables.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows, contentMatches: cm, ok: rows === t.rows && cm !== false });
        }
      }, { applicationName: 'axisor-db verify' });
      result.drill.ok = result.drill.tables.every((t) => t.ok);
    } catch (err) {
      result.drill.error = err instanceof AxisorError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
      result.drill.ok = false;
    } finally {
      await dropDatabase(admin, scratch).catch(() => {});
    }
  }, { applicationName: 'axisor-db verify', statementTimeoutMs: 0, database: o.maintenanceDb });
  result.ok = result.checksums.ok && result.drill.ok;
  result.durationMs = Date.now() - started;
  return result;
}
