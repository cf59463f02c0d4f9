import type { AxisorConfig } from '../config/types.ts';
import type { ServiceContext } from '../service.ts';
import { withClient, withDatabase } from '../db/connect.ts';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { AxisorError, PrivilegeError } from '../errors.ts';
import { formatBytes } from '../format.ts';
import { mapPrivilege } from '../db/privilege.ts';
import { findPgTool } from '../pgtools/index.ts';
import type { ProgressFn } from '../progress.ts';
import { loadChain } from './load.ts';
import type { NotValidForeignKey } from './foreign-keys.ts';
import { createDatabase, dropDatabase, sideName, sweepSideDatabases } from '../db/side-databases.ts';
import { findBackup, resolveChain } from '../archive/catalog.ts';
import { authenticateChain } from '../archive/encryption.ts';
import type { BackupKey } from '../crypto/key.ts';
import { checkFiles } from '../archive/checksums.ts';
import { join } from 'node:path';
import { classifyFailure } from '../archive/classify.ts';
import { codecFor } from '../archive/compress.ts';
import { runLimited } from '../run-limited.ts';
import { copySessionEnv, digestBackupFile, digestTable } from '../archive/copy-stream.ts';
import { addDigests, ROW_DIGEST_ALGORITHM } from '../archive/row-digest.ts';
import type { TableEntry } from '../archive/manifest.ts';

export interface VerifyOptions {
  id: string;
  drill: boolean;
  jobs: number;
  maintenanceDb: string;
  env: Readonly<Record<string, string | undefined>>;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** --encryption-key-file: needed by the drill of an encrypted backup. */
  encryptionKey?: BackupKey | null;
}

export type ContentVerdict = 'identical' | 'differs' | 'not-compared';

export interface TableCheck {
  schema: string;
  name: string;
  expectedRows: number;
  rows: number | null;
  /**
   * identical / differs: the restored rows' order-independent digest against the one recorded at backup time.
   * not-compared: no data to compare (schema-only backup, or a table that is not in the chain's full backup).
   */
  content: ContentVerdict;
  /** true / false for identical / differs, null otherwise (kept for older readers of the JSON). */
  contentMatches: boolean | null;
  ok: boolean;
}

export interface VerifyCompared {
  /** Tables whose restored row count was compared with the manifest (of the chain's last backup). */
  rowCounts: number;
  /** Tables whose content was compared (identical or differs). */
  content: number;
  /** 'rowsum64-v1' (order-independent digest recorded at backup time; for old manifests recomputed from the files) or null. */
  method: string | null;
  /** The backup whose content was compared: the full backup (for a chain: before its incrementals were replayed). */
  contentAsOf: string | null;
  /** One sentence saying what was and was not proven. */
  summary: string;
}

export interface VerifyResult {
  id: string;
  chain: string[];
  ok: boolean;
  checksums: { ok: boolean; files: number; bytes: number; bad: Array<{ backup: string; path: string; problem: string }> };
  drill: {
    ran: boolean; ok: boolean; database: string | null; error: string | null; tables: TableCheck[]; replayedTransactions: number | null; compared: VerifyCompared | null;
    /** Foreign keys the backed-up data violates (created NOT VALID in the drill, as a restore would). */
    notValidForeignKeys: NotValidForeignKey[];
    /** Extensions of the backup the role may not create: left out of the drill, as a restore under it would. */
    skippedExtensions: string[];
  };
  /** Things left out of the drill (extensions the role may not create). */
  warnings: string[];
  durationMs: number;
}

/** Errors of the environment (not of the backup): they keep their own exit code instead of failing the drill with 65. */
function isEnvironmentError(err: unknown): boolean {
  return err instanceof AxisorError && /^(connection|privilege|no_space|path|aborted|lock)\b/.test(err.code);
}

/**
 * A drill the role may not run (no CREATEDB, no SET on session_replication_role...): not a verdict on the backup
 * (never 65) and not a bug (never 70). Exit 67 whose message still reports the checksums that passed and whose hint
 * adds --no-drill; details carry the checksums result and the drill (ran: false when it could not start).
 */
function drillRefused(err: unknown, result: VerifyResult): unknown {
  if (!(err instanceof PrivilegeError)) return err;
  const c = result.checksums;
  const sql = (err.details?.sql as string | undefined) ?? null;
  return new PrivilegeError(err.code.replace(/^privilege\./, ''), `checksums of ${c.files} files (${formatBytes(c.bytes)}) of ${result.chain.join(' -> ')} passed; the restore drill did not run: ${err.message}`, {
    hint: `${err.hint ?? 'see README, section Roles'}; or run the drill as a role that may (README, section Roles: the restore role), or pass --no-drill to check the checksums only`,
    details: { ...err.details, sql, checksums: c, drill: { ...result.drill, ok: false, error: err.message } },
    cause: err,
  });
}

function summarize(c: Omit<VerifyCompared, 'summary'>, chainLength: number, tables: number, schemaOnly: boolean): string {
  if (schemaOnly) return `schema-only backup: the schema was restored; it holds no rows, so no data was compared`;
  const rows = `row counts of ${c.rowCounts}/${tables} tables${chainLength > 1 ? ` after replaying ${chainLength - 1} incremental backup(s) (each UPDATE/DELETE had to match exactly one row)` : ''}`;
  if (c.method === null || c.content === 0) return `${rows}; content NOT compared${c.method === null ? ' (this backup records no content digest)' : ''}`;
  const how = c.method === ROW_DIGEST_ALGORITHM ? 'order-independent row digest of the COPY text, recorded at backup time' : 'order-independent row digest of the COPY text, recomputed from the backup files (older manifest)';
  const asOf = chainLength > 1 ? ` as of the full backup ${c.contentAsOf} (before replay; the incrementals' changes are compared by row counts only)` : '';
  return `${rows}; content of ${c.content}/${tables} tables (${how})${asOf}`;
}

/**
 * `backup verify`: every file's sha256 against the manifest (the whole chain), then a restore drill into a
 * scratch database that must reproduce each table's row count and the content digest recorded at backup time
 * (for a chain: the full backup's content, checked before the incrementals are replayed). The scratch database
 * is always dropped (and marked, so a killed run's is swept by the next one).
 */
/** verifyBackup's input: what the command parsed; the rest comes from the ServiceContext. */
export type VerifyInput = Omit<VerifyOptions, 'env' | 'onProgress' | 'signal'>;

/** `axisor-db backup verify`: every checksum, then (with the drill) a restore into a scratch database compared table by table. */
export async function verifyBackup(input: VerifyInput, ctx: ServiceContext): Promise<VerifyResult> {
  return verifyChain(ctx.config, { ...input, env: ctx.env, onProgress: ctx.onProgress, signal: ctx.signal });
}

async function verifyChain(config: AxisorConfig, o: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  await findBackup(config.backupDir, o.id);
  const chain = await resolveChain(config.backupDir, o.id);
  // Checksums need no key (the manifest sums stored bytes); the drill decrypts, so it needs the right key first.
  if (o.drill || o.encryptionKey) await authenticateChain(chain, o.encryptionKey ?? null);
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
    drill: { ran: false, ok: false, database: null, error: null, tables: [], replayedTransactions: null, compared: null, notValidForeignKeys: [], skippedExtensions: [] }, warnings: [], durationMs: 0,
  };
  if (!result.ok || !o.drill) {
    result.drill.ok = !o.drill && result.ok;
    result.durationMs = Date.now() - started;
    return result;
  }
  const base = chain[0]!.manifest;
  const last = chain[chain.length - 1]!.manifest;
  const withDigest = base.rowDigestAlgorithm === ROW_DIGEST_ALGORITHM && base.tables.every((t) => t.chunks.every((c) => typeof c.rowDigest === 'string'));
  const hasData = base.type !== 'schema-only' && base.tables.some((t) => t.chunks.length > 0);
  const content = new Map<string, ContentVerdict>();
  const psql = await findPgTool('psql', { env: o.env });
  await withClient(config, async (admin) => {
    await sweepSideDatabases(admin).catch(() => null); // problems surface in restore's warnings
    const scratch = sideName('axisor_verify', last.database.replace(/[^a-z0-9_]/gi, '').slice(0, 20) || 'db');
    // A role without CREATEDB cannot drill; what was checked is still said (drillRefused), with the GRANT and --no-drill.
    await mapPrivilege({ role: config.connection.user, action: 'create the scratch database of the restore drill' }, () => createDatabase(admin, scratch, base.encoding, 'verify'))
      .catch((err) => {
        throw drillRefused(err, result);
      });
    result.drill.ran = true;
    result.drill.database = scratch;
    try {
      const afterData = async (db: string, tables: TableEntry[]) => {
        const conn = withDatabase(config.connection, db);
        const env = copySessionEnv(o.env, base.encoding);
        await runLimited(tables.filter((t) => t.chunks.length > 0).map((t) => async () => {
          const copySql = `COPY ${qualifiedName(t.schema, t.name)} (${t.columns.map(quoteIdent).join(', ')}) TO STDOUT`;
          o.onProgress?.({ phase: 'compare', message: `${t.schema}.${t.name}` });
          // Old manifests recorded no row digest: recompute it from the backup's own files (their sha256 was
          // checked above, so this is the content the backup holds).
          const want = withDigest ? addDigests(t.chunks.map((c) => c.rowDigest!))
            : addDigests(await Promise.all(t.chunks.map(async (c) => (await digestBackupFile({ file: join(chain[0]!.dir, c.file), codec: codecFor(base.compression), env: o.env })).rowDigest)));
          const got = await digestTable({ psql, conn, env, copySql });
          content.set(`${t.schema}.${t.name}`, got.rowDigest === want && got.rows === t.rows ? 'identical' : 'differs');
        }), o.jobs, o.signal);
      };
      const loaded = await loadChain(scratch, chain, { config, env: o.env, jobs: o.jobs, only: null, toTimeMicros: null, noOwner: true, noAcl: true, afterData: hasData ? afterData : undefined, onProgress: o.onProgress, signal: o.signal, encryptionKey: o.encryptionKey });
      result.drill.replayedTransactions = loaded.replay?.transactions ?? null;
      result.drill.notValidForeignKeys = loaded.notValidForeignKeys;
      result.drill.skippedExtensions = loaded.skippedExtensions;
      result.warnings.push(...loaded.warnings);
      await withClient(withDatabase(config.connection, scratch), async (c) => {
        for (const t of last.tables) {
          const rows = Number((await c.query(`SELECT count(*) AS n FROM ONLY ${qualifiedName(t.schema, t.name)}`)).rows[0].n);
          const verdict = content.get(`${t.schema}.${t.name}`) ?? 'not-compared';
          const contentMatches = verdict === 'identical' ? true : verdict === 'differs' ? false : null;
          result.drill.tables.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows, content: verdict, contentMatches, ok: rows === t.rows && verdict !== 'differs' });
        }
      }, { applicationName: 'axisor-db verify' });
      result.drill.ok = result.drill.tables.every((t) => t.ok);
    } catch (caught) {
      // A server that went away, a missing privilege, an interrupt: not a verdict on the backup (keeps its code).
      const err = await classifyFailure(caught, { what: `verify drill of ${o.id}`, outcome: 'the backup itself was not changed', server: `${config.connection.host}:${config.connection.port}`, connected: true });
      if (err instanceof PrivilegeError) throw drillRefused(err, result);
      if (isEnvironmentError(err)) throw err;
      result.drill.error = err instanceof AxisorError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
      result.drill.ok = false;
    } finally {
      await dropDatabase(admin, scratch).catch(() => {});
    }
  }, { applicationName: 'axisor-db verify', statementTimeoutMs: 0, database: o.maintenanceDb });
  const compared = {
    rowCounts: result.drill.tables.filter((t) => t.rows !== null).length,
    content: result.drill.tables.filter((t) => t.content === 'identical' || t.content === 'differs').length,
    method: !hasData ? null : withDigest ? ROW_DIGEST_ALGORITHM : `${ROW_DIGEST_ALGORITHM} (recomputed from the backup files: this manifest predates recorded digests)`,
    contentAsOf: hasData ? base.id : null,
  };
  result.drill.compared = { ...compared, summary: summarize(compared, chain.length, last.tables.length, base.type === 'schema-only') };
  result.ok = result.checksums.ok && result.drill.ok;
  result.durationMs = Date.now() - started;
  return result;
}
