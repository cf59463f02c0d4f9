import { createInterface } from 'node:readline';
import { createReadStream } from 'node:fs';
import { pipeline as pipelineCb, type Readable, type Writable } from 'node:stream';
import type { BackupKey } from '../crypto/key.ts';
import { manifestEncryptionOf, openBackupFile } from '../archive/encryption.ts';
import { isRemoteDir, storedName } from '../archive/repo.ts';
import type pg from 'pg';
import { spawnCodec, type Codec } from '../archive/compress.ts';
import { microsToIso, parseChange, timestampMicros, type ChangeRecord, type ColumnValue } from '../archive/changes.ts';
import { PGOUTPUT_FORMAT, RecordSplitter } from '../archive/pgoutput.ts';
import { pinValueSettings } from '../archive/value-settings.ts';
import { sha256Hex, type Manifest, type TableEntry } from '../archive/manifest.ts';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { IntegrityError, RefusedError, ToolError } from '../errors.ts';
import { PgoutputApplier } from './replay-pgoutput.ts';
import { stderrTail } from '../pgtools/index.ts';

export interface ReplayStats {
  transactions: number;
  changes: number;
  /** Commit time of the last replayed transaction (ISO), or null. */
  lastCommit: string | null;
  /** A transaction after --to-time was reached: later changes were not applied. */
  stoppedAtTarget: boolean;
}

/** The decompressed change file of one incremental, as a stream; `done()` checks the decompressor's exit. */
async function openChangeFile(dir: string, m: Manifest, codec: Codec, env: Readonly<Record<string, string | undefined>>, key: BackupKey | null): Promise<{ input: Readable; done(): Promise<void> }> {
  const file = storedName(dir, m.files[0]!.path);
  // An encrypted or remote change file is read (and decrypted) in-process and fed to the decompressor's stdin.
  const src = manifestEncryptionOf(m) || isRemoteDir(dir) ? await openBackupFile(dir, m.files[0]!.path, key, { size: m.files[0]!.bytes }) : null;
  const dec = codec.decompress?.(src ? '-' : file);
  const child = dec ? spawnCodec(dec, env, src ? 'pipe' : 'ignore') : null;
  // A decryption failure (a tampered chunk) must surface as itself, not as the decompressor's truncated input.
  if (src && child) pipelineCb(src, child.stdin as Writable, (err) => err && (child.stdout as Readable).destroy(err));
  const input = (child ? child.stdout : src ?? createReadStream(file)) as Readable;
  return {
    input,
    async done() {
      src?.destroy();
      if (!child) return;
      if (child.exitCode === null) child.kill();
      const r = await child;
      if (r.exitCode !== 0 && !r.isTerminated) throw new ToolError('failed', `${dec!.bin} failed on ${file} (exit ${r.exitCode})`, { stderrTail: stderrTail(r.stderr) });
    },
  };
}

async function* changeLines(dir: string, m: Manifest, codec: Codec, env: Readonly<Record<string, string | undefined>>, key: BackupKey | null): AsyncGenerator<string> {
  const f = await openChangeFile(dir, m, codec, env, key);
  try {
    for await (const line of createInterface({ input: f.input, crlfDelay: Infinity })) if (line) yield line;
  } finally {
    await f.done();
  }
}

async function* changeMessages(dir: string, m: Manifest, codec: Codec, env: Readonly<Record<string, string | undefined>>, key: BackupKey | null): AsyncGenerator<Buffer> {
  const f = await openChangeFile(dir, m, codec, env, key);
  const split = new RecordSplitter();
  let complete = false;
  try {
    for await (const chunk of f.input as AsyncIterable<Buffer>) yield* split.push(chunk);
    complete = true;
  } finally {
    await f.done();
  }
  if (complete) {
    try {
      split.end();
    } catch (err) {
      throw new IntegrityError('change_file', `the change file of backup ${m.id} is truncated: ${(err as Error).message}`, { hint: 'verify the chain (axisor-db backup verify) and restore an earlier backup' });
    }
  }
}

/**
 * wal2json prints bytea as bare hex (no \\x prefix), which the server would read as escape format. Change files
 * written since the capture stopped asking wal2json for type names (include-types 0, a third less decoding) carry
 * no `type`, so bytea columns come from the target's catalog, which holds the chain's schema (its fingerprint is
 * checked at every incremental). Older files still say `"type":"bytea"`.
 */
export function sqlValue(c: ColumnValue, bytea: ReadonlySet<string>): unknown {
  if (typeof c.value === 'string' && !c.value.startsWith('\\x') && (c.type === 'bytea' || (c.type === undefined && bytea.has(c.name)))) return `\\x${c.value}`;
  return c.value;
}

/**
 * "schema.table" -> names of its bytea columns. Only bytea itself: wal2json strips the \\x of that type alone (a
 * domain over bytea goes through the output function and keeps it; the startsWith check above covers both).
 */
async function byteaColumns(client: pg.Client): Promise<Map<string, Set<string>>> {
  const { rows } = await client.query<{ t: string; a: string }>(`
    SELECT n.nspname || '.' || c.relname AS t, a.attname::text AS a
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'bytea'::regtype`);
  const out = new Map<string, Set<string>>();
  for (const r of rows) {
    if (!out.has(r.t)) out.set(r.t, new Set());
    out.get(r.t)!.add(r.a);
  }
  return out;
}

const NONE: ReadonlySet<string> = new Set();

class Applier {
  private readonly tables = new Map<string, TableEntry>();
  private pendingTruncate: { lsn: string; names: string[] } | null = null;
  changes = 0;
  constructor(private readonly client: pg.Client, tables: TableEntry[], private readonly only: Set<string> | null, private readonly bytea: Map<string, Set<string>>) {
    for (const t of tables) this.tables.set(`${t.schema}.${t.name}`, t);
  }

  private table(r: ChangeRecord): TableEntry | null {
    const key = `${r.schema}.${r.table}`;
    if (this.only && !this.only.has(key)) return null;
    const t = this.tables.get(key);
    if (!t) throw new IntegrityError('replay_unknown_table', `a captured change names table ${key}, which the chain's schema does not have`);
    return t;
  }

  private async run(text: string, values: unknown[], expectOne: boolean, what: string): Promise<void> {
    const res = await this.client.query({ name: `axr_${sha256Hex(text).slice(0, 16)}`, text, values });
    if (expectOne && res.rowCount !== 1) {
      throw new IntegrityError('replay_mismatch', `${what} matched ${res.rowCount} rows instead of 1 while replaying`, { hint: 'the chain does not match its base backup; verify it (axisor-db backup verify) and restore an earlier backup' });
    }
  }

  private where(ident: ColumnValue[], start: number, bytea: ReadonlySet<string>): { sql: string; values: unknown[] } {
    const values: unknown[] = [];
    const parts = ident.map((c) => {
      if (c.value === null) return `${quoteIdent(c.name)} IS NULL`;
      values.push(sqlValue(c, bytea));
      return `${quoteIdent(c.name)} = $${start + values.length}`;
    });
    return { sql: parts.join(' AND '), values };
  }

  async flushTruncate(): Promise<void> {
    const t = this.pendingTruncate;
    this.pendingTruncate = null;
    if (t && t.names.length > 0) {
      await this.client.query(`TRUNCATE ONLY ${t.names.join(', ')}`);
      this.changes++;
    }
  }

  async apply(r: ChangeRecord): Promise<void> {
    if (r.action !== 'T') await this.flushTruncate();
    if (!'IUDT'.includes(r.action)) return;
    const t = this.table(r);
    if (r.action === 'T') {
      if (this.pendingTruncate && this.pendingTruncate.lsn !== r.lsn) await this.flushTruncate();
      this.pendingTruncate ??= { lsn: r.lsn ?? '', names: [] };
      // Tables truncated together (CASCADE, or a list) arrive as one change per table with the same LSN.
      if (t) this.pendingTruncate.names.push(qualifiedName(t.schema, t.name));
      return;
    }
    if (!t) return;
    const name = qualifiedName(t.schema, t.name);
    const known = new Set(t.columns);
    const bytea = this.bytea.get(`${t.schema}.${t.name}`) ?? NONE;
    const value = (c: ColumnValue) => sqlValue(c, bytea);
    // Columns absent from an UPDATE are unchanged TOASTed values: leave them as they are.
    const cols = (r.columns ?? []).filter((c) => known.has(c.name));
    if (r.action === 'I') {
      await this.run(`INSERT INTO ${name} (${cols.map((c) => quoteIdent(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map(value), false, `INSERT into ${t.schema}.${t.name}`);
    } else {
      const ident = r.identity ?? [];
      if (ident.length === 0) throw new IntegrityError('replay_no_identity', `an ${r.action === 'U' ? 'UPDATE' : 'DELETE'} on ${t.schema}.${t.name} carries no key`, { hint: 'the table had no primary key or replica identity when it was captured' });
      if (r.action === 'U') {
        // Key columns that keep their value stay out of SET (a GENERATED ALWAYS identity may only be set to DEFAULT).
        const same = new Map(ident.map((c) => [c.name, c.value]));
        const set = cols.filter((c) => !(same.has(c.name) && same.get(c.name) === c.value));
        const w = this.where(ident, set.length, bytea);
        if (set.length === 0) {
          await this.run(`SELECT ctid FROM ${name} WHERE ${w.sql} LIMIT 1`, w.values, true, `an UPDATE of ${t.schema}.${t.name}`);
          this.changes++;
          return;
        }
        // The ctid sub-select touches exactly one row even under REPLICA IDENTITY FULL with duplicate rows.
        await this.run(`UPDATE ${name} SET ${set.map((c, i) => `${quoteIdent(c.name)} = $${i + 1}`).join(', ')} WHERE ctid = (SELECT ctid FROM ${name} WHERE ${w.sql} LIMIT 1)`, [...set.map(value), ...w.values], true, `an UPDATE of ${t.schema}.${t.name}`);
      } else {
        const w = this.where(ident, 0, bytea);
        await this.run(`DELETE FROM ${name} WHERE ctid = (SELECT ctid FROM ${name} WHERE ${w.sql} LIMIT 1)`, w.values, true, `a DELETE from ${t.schema}.${t.name}`);
      }
    }
    this.changes++;
  }
}

/**
 * Replays the incrementals of a chain in commit order into `client`, which is inside one transaction with
 * session_replication_role = replica (triggers and FK checks do not fire twice). Stops before the first
 * transaction that committed after `toTimeMicros`.
 */
export async function replayChain(client: pg.Client, links: Array<{ dir: string; manifest: Manifest }>, o: {
  codecFor: (m: Manifest) => Codec; env: Readonly<Record<string, string | undefined>>; only: Set<string> | null; toTimeMicros: bigint | null; tables: TableEntry[];
  encryptionKey?: BackupKey | null;
}): Promise<ReplayStats> {
  assertToTimeReplayable(links.map((l) => l.manifest), o.toTimeMicros);
  // Values are read back under the settings they were written with (pg_dump's), not the target database's defaults.
  await pinValueSettings(client, true);
  const legacy = links.some((l) => !l.manifest.changeFormat) ? new Applier(client, o.tables, o.only, await byteaColumns(client)) : null;
  const stats: ReplayStats = { transactions: 0, changes: 0, lastCommit: null, stoppedAtTarget: false };
  let pgo: PgoutputApplier | null = null;
  for (const link of links) {
    const format = link.manifest.changeFormat;
    if (format === PGOUTPUT_FORMAT) {
      pgo ??= new PgoutputApplier(client, o.tables, o.only);
      for await (const m of changeMessages(link.dir, link.manifest, o.codecFor(link.manifest), o.env, o.encryptionKey ?? null)) {
        if ((await pgo.apply(m, stats, o.toTimeMicros)) === 'stop') {
          stats.stoppedAtTarget = true;
          break;
        }
      }
    } else if (format === undefined) {
      for await (const line of changeLines(link.dir, link.manifest, o.codecFor(link.manifest), o.env, o.encryptionKey ?? null)) {
        const r = parseChange(line);
        if (r.action === 'B') {
          if (o.toTimeMicros !== null && r.timestamp && timestampMicros(r.timestamp) > o.toTimeMicros) {
            stats.stoppedAtTarget = true;
            break;
          }
          stats.transactions++;
          stats.lastCommit = r.timestamp ?? stats.lastCommit;
          continue;
        }
        await legacy!.apply(r);
      }
      await legacy!.flushTruncate();
    } else {
      throw new IntegrityError('change_format', `backup ${link.manifest.id} holds changes in format ${format}, which this axisor-db cannot read`, { hint: 'restore it with the axisor-db version that wrote it, or a newer one' });
    }
    if (stats.stoppedAtTarget) break;
  }
  stats.changes = (legacy?.changes ?? 0) + (pgo?.changes ?? 0);
  return stats;
}

/**
 * A --to-time inside a window where a table lived and died between two incrementals cannot be restored exactly
 * (its rows are in no backup): refuse before any change is applied, naming the table and the window.
 */
export function assertToTimeReplayable(manifests: Manifest[], toTimeMicros: bigint | null): void {
  if (toTimeMicros === null) return;
  for (const m of manifests) {
    for (const g of m.replayGaps ?? []) {
      if (toTimeMicros >= timestampMicros(g.from) && toTimeMicros < timestampMicros(g.to)) {
        throw new RefusedError('to_time_in_gap', `--to-time ${microsToIso(toTimeMicros)} falls between ${g.from} and ${g.to}, while table ${g.table} existed between two backups (created and dropped; its rows are in no backup)`, {
          hint: `choose a --to-time before ${g.from} or from ${g.to} on (backup ${m.id})`,
        });
      }
    }
  }
}
