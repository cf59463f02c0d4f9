import type pg from 'pg';
import type { AxisorConfig } from '../config/types.ts';
import type { ServiceContext } from '../service.ts';
import { withClient, withDatabase } from '../db/connect.ts';
import { qualifiedName } from '../db/ident.ts';
import { AxisorError, PrivilegeError } from '../errors.ts';
import { formatBytes } from '../format.ts';
import { mapPrivilege } from '../db/privilege.ts';
import type { ProgressFn } from '../progress.ts';
import { loadChain } from './load.ts';
import { createDatabase, dropDatabase, sideName, sweepSideDatabases } from '../db/side-databases.ts';
import { findBackup, resolveChain } from '../archive/catalog.ts';
import { authenticateChain } from '../archive/encryption.ts';
import type { BackupKey } from '../crypto/key.ts';
import { checkFiles } from '../archive/checksums.ts';
import { join } from 'node:path';
import { classifyFailure } from '../archive/classify.ts';
import { codecFor } from '../archive/compress.ts';
import { runTasks } from '../tasks.ts';
import { digestBackupFile, digestTable } from '../archive/table-digest.ts';
import { addDigests } from '../archive/row-digest.ts';
import type { Manifest, TableEntry } from '../archive/manifest.ts';
import { checksumsResult, comparedOf, contentBasis, settleVerdict, tableCheck, type ContentVerdict, type TableCheck, type VerifyResult } from './verify-report.ts';

export type { ContentVerdict, TableCheck, VerifyCompared, VerifyResult } from './verify-report.ts';

/** A backup and the backups it builds on, oldest (the full backup) first. */
type Chain = Array<{ dir: string; manifest: Manifest }>;

/** One restore drill: what it restores and compares, and the content verdicts gathered while it runs. */
interface Drill {
  config: AxisorConfig;
  o: VerifyOptions;
  chain: Chain;
  basis: { withDigest: boolean; hasData: boolean };
  content: Map<string, ContentVerdict>;
}

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
  const result = checksumsResult(o.id, chain.map((l) => l.manifest.id), await checkChainFiles(chain, o.onProgress));
  if (result.ok && o.drill) await drillRestore(config, o, chain, result);
  settleVerdict(result, o.drill);
  result.durationMs = Date.now() - started;
  return result;
}

/** Every file of every link against the sha256 its manifest records. */
async function checkChainFiles(chain: Chain, onProgress: ProgressFn | undefined): Promise<VerifyResult['checksums']> {
  const bad: VerifyResult['checksums']['bad'] = [];
  let files = 0;
  let bytes = 0;
  for (const link of chain) {
    const r = await checkFiles(link.dir, link.manifest, onProgress);
    files += r.files;
    bytes += r.bytes;
    for (const b of r.bad) bad.push({ backup: r.id, ...b });
  }
  return { ok: bad.length === 0, files, bytes, bad };
}

/**
 * The restore drill: restore the chain into a scratch database (comparing each table's content with the full
 * backup's digest before the incrementals are replayed), then count every table's rows. Fills `result.drill`. A
 * failure that is a verdict on the backup is recorded there; one of the environment keeps its own exit code.
 */
async function drillRestore(config: AxisorConfig, o: VerifyOptions, chain: Chain, result: VerifyResult): Promise<void> {
  const base = chain[0]!.manifest;
  const last = chain[chain.length - 1]!.manifest;
  const drill: Drill = { config, o, chain, basis: contentBasis(base), content: new Map() };
  await withClient(config, async (admin) => {
    const scratch = await createScratch(admin, config, chain, result);
    try {
      const compare = (db: string, tables: TableEntry[]) => compareContent(drill, db, tables);
      const loaded = await loadChain(scratch, chain, { config, env: o.env, jobs: o.jobs, only: null, toTimeMicros: null, noOwner: true, noAcl: true, afterData: drill.basis.hasData ? compare : undefined, onProgress: o.onProgress, signal: o.signal, encryptionKey: o.encryptionKey });
      result.drill.replayedTransactions = loaded.replay?.transactions ?? null;
      result.drill.notValidForeignKeys = loaded.notValidForeignKeys;
      result.drill.skippedExtensions = loaded.skippedExtensions;
      result.warnings.push(...loaded.warnings);
      await checkRowCounts(drill, scratch, last.tables, result.drill.tables);
      result.drill.ok = result.drill.tables.every((t) => t.ok);
    } catch (caught) {
      await recordDrillFailure(caught, drill, result);
    } finally {
      await dropDatabase(admin, scratch).catch(() => {});
    }
  }, { applicationName: 'axisor-db verify', statementTimeoutMs: 0, database: o.maintenanceDb });
  result.drill.compared = comparedOf(result.drill.tables, chain.map((l) => l.manifest), drill.basis);
}

/** The drill's scratch database (old ones of killed runs swept first); marks the drill as run. */
async function createScratch(admin: pg.Client, config: AxisorConfig, chain: Chain, result: VerifyResult): Promise<string> {
  await sweepSideDatabases(admin).catch(() => null); // problems surface in restore's warnings
  const scratch = sideName('axisor_verify', chain[chain.length - 1]!.manifest.database.replace(/[^a-z0-9_]/gi, '').slice(0, 20) || 'db');
  // A role without CREATEDB cannot drill; what was checked is still said (drillRefused), with the GRANT and --no-drill.
  await mapPrivilege({ role: config.connection.user, action: 'create the scratch database of the restore drill' }, () => createDatabase(admin, scratch, chain[0]!.manifest.encoding, 'verify'))
    .catch((err) => {
      throw drillRefused(err, result);
    });
  result.drill.ran = true;
  result.drill.database = scratch;
  return scratch;
}

/**
 * A drill that failed: a server that went away, a missing privilege, an interrupt is not a verdict on the backup
 * (thrown, keeping its code); anything else is the backup's failure, recorded in `result.drill`.
 */
async function recordDrillFailure(caught: unknown, d: Drill, result: VerifyResult): Promise<void> {
  const { config } = d;
  const err = await classifyFailure(caught, { what: `verify drill of ${d.o.id}`, outcome: 'the backup itself was not changed', server: `${config.connection.host}:${config.connection.port}`, connected: true });
  if (err instanceof PrivilegeError) throw drillRefused(err, result);
  if (isEnvironmentError(err)) throw err;
  result.drill.error = err instanceof AxisorError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
  result.drill.ok = false;
}

/**
 * Between the data and the replay of the incrementals: each restored table's order-independent row digest (and
 * row count) against the full backup's, `jobs` tables at a time. Verdicts go into `d.content`.
 */
async function compareContent(d: Drill, db: string, tables: TableEntry[]): Promise<void> {
  const { o, chain } = d;
  const base = chain[0]!.manifest;
  const conn = withDatabase(d.config.connection, db);
  const tasks = tables.filter((t) => t.chunks.length > 0).map((t) => ({ id: `${t.schema}.${t.name}`, table: t }));
  await runTasks(tasks, o.jobs, async ({ table: t }) => {
    o.onProgress?.({ phase: 'compare', message: `${t.schema}.${t.name}` });
    // Old manifests recorded no row digest: recompute it from the backup's own files (their sha256 was
    // checked above, so this is the content the backup holds).
    const want = d.basis.withDigest ? addDigests(t.chunks.map((c) => c.rowDigest!))
      : addDigests(await Promise.all(t.chunks.map(async (c) => (await digestBackupFile({ file: join(chain[0]!.dir, c.file), codec: codecFor(base.compression), env: o.env, format: t.copyFormat })).rowDigest)));
    const got = await digestTable({ conn, encoding: base.encoding, table: t, role: d.config.connection.user });
    d.content.set(`${t.schema}.${t.name}`, got.rowDigest === want && got.rows === t.rows ? 'identical' : 'differs');
  }, { signal: o.signal });
}

/** After the replay: every table of the chain's last backup, its restored row count and content verdict, into `checks`. */
async function checkRowCounts(d: Drill, scratch: string, tables: TableEntry[], checks: TableCheck[]): Promise<void> {
  await withClient(withDatabase(d.config.connection, scratch), async (c) => {
    for (const t of tables) {
      const rows = Number((await c.query(`SELECT count(*) AS n FROM ONLY ${qualifiedName(t.schema, t.name)}`)).rows[0].n);
      checks.push(tableCheck(t, rows, d.content.get(`${t.schema}.${t.name}`) ?? 'not-compared'));
    }
  }, { applicationName: 'axisor-db verify' });
}
