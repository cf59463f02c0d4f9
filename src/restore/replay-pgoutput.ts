import type pg from 'pg';
import type { TableEntry } from '../archive/manifest.ts';
import { parseMessage, pgTimeToIso, pgTimeToUnixMicros, type Relation, type TupleValue } from '../archive/pgoutput.ts';
import { sha256Hex } from '../archive/manifest.ts';
import { qualifiedName, quoteIdent } from '../db/ident.ts';
import { IntegrityError } from '../errors.ts';
import type { ReplayStats } from './replay.ts';

/**
 * Applies pgoutput change files (format 'pgoutput-1'). Values are the source's output text (under pinned
 * settings), passed as untyped parameters so the target column's input function reads them. Unchanged TOAST
 * values ('u') are left out of the SET list, so the restored row keeps its value.
 */
export class PgoutputApplier {
  private readonly relations = new Map<number, Relation>();
  private readonly tables = new Map<string, TableEntry>();
  changes = 0;

  constructor(private readonly client: pg.Client, tables: TableEntry[], private readonly only: Set<string> | null) {
    for (const t of tables) this.tables.set(`${t.schema}.${t.name}`, t);
  }

  /** Returns the commit time (µs since the Unix epoch) of a Begin, so the caller can stop at --to-time. */
  async apply(m: Buffer, stats: ReplayStats, toTimeMicros: bigint | null): Promise<'stop' | void> {
    const msg = parseMessage(m);
    switch (msg.tag) {
      case 'R':
        this.relations.set(msg.relation.oid, msg.relation);
        return;
      case 'B': {
        if (toTimeMicros !== null && pgTimeToUnixMicros(msg.commitTimeUs) > toTimeMicros) return 'stop';
        stats.transactions++;
        stats.lastCommit = pgTimeToIso(msg.commitTimeUs);
        return;
      }
      case 'I': {
        const t = this.target(msg.relid);
        if (!t) return;
        const cols = t.rel.columns.map((c, i) => ({ name: c.name, v: msg.tuple[i] })).filter((c) => c.v !== 'unchanged');
        // OVERRIDING SYSTEM VALUE: a GENERATED ALWAYS identity column gets the captured value (a no-op elsewhere).
        await this.run(`INSERT INTO ${t.name} (${cols.map((c) => quoteIdent(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => this.value(c.v as Buffer | null)), false, `INSERT into ${t.label}`);
        break;
      }
      case 'U': {
        const t = this.target(msg.relid);
        if (!t) return;
        // Without an old tuple the key did not change: leave the key columns out of SET (a GENERATED ALWAYS identity
        // key may only be set to DEFAULT), and out of the work.
        const set = t.rel.columns.map((c, i) => ({ name: c.name, key: c.key, v: msg.tuple[i] })).filter((c) => c.v !== 'unchanged' && !(msg.oldKind === null && c.key));
        const w = this.where(t.rel, msg.oldKind, msg.old, msg.tuple, set.length);
        if (set.length === 0) {
          // Nothing to set (an UPDATE that changed no captured value): the row must still be there.
          await this.run(`SELECT ctid FROM ${t.name} WHERE ${w.sql} LIMIT 1`, w.values, true, `an UPDATE of ${t.label}`);
          break;
        }
        await this.run(`UPDATE ${t.name} SET ${set.map((c, i) => `${quoteIdent(c.name)} = $${i + 1}`).join(', ')} WHERE ctid = (SELECT ctid FROM ${t.name} WHERE ${w.sql} LIMIT 1)`,
          [...set.map((c) => this.value(c.v as Buffer | null)), ...w.values], true, `an UPDATE of ${t.label}`);
        break;
      }
      case 'D': {
        const t = this.target(msg.relid);
        if (!t) return;
        const w = this.where(t.rel, msg.oldKind, msg.old, null, 0);
        await this.run(`DELETE FROM ${t.name} WHERE ctid = (SELECT ctid FROM ${t.name} WHERE ${w.sql} LIMIT 1)`, w.values, true, `a DELETE from ${t.label}`);
        break;
      }
      case 'T': {
        const names = msg.relids.map((r) => this.target(r)).filter((t) => t !== null).map((t) => t.name);
        if (names.length === 0) return;
        await this.client.query(`TRUNCATE ONLY ${names.join(', ')}`);
        break;
      }
      default:
        return;
    }
    this.changes++;
  }

  private target(relid: number): { rel: Relation; name: string; label: string } | null {
    const rel = this.relations.get(relid);
    if (!rel) throw new IntegrityError('replay_no_relation', `a captured change names relation ${relid} before describing it`, { hint: 'the change file is damaged; verify the chain (axisor-db backup verify)' });
    const key = `${rel.schema}.${rel.name}`;
    if (this.only && !this.only.has(key)) return null;
    const t = this.tables.get(key);
    if (!t) throw new IntegrityError('replay_unknown_table', `a captured change names table ${key}, which the chain's schema does not have`);
    return { rel, name: qualifiedName(t.schema, t.name), label: key };
  }

  private value(v: Exclude<TupleValue, 'unchanged'>): string | null {
    return v === null ? null : v.toString('utf8');
  }

  /**
   * The row to change: the key columns ('K' old tuple, or the new tuple when the key did not change), or, with
   * REPLICA IDENTITY FULL ('O'), every column compared as text (json and point have no equality operator).
   */
  private where(rel: Relation, oldKind: 'K' | 'O' | null, old: TupleValue[] | null, tuple: TupleValue[] | null, start: number): { sql: string; values: unknown[] } {
    const full = oldKind === 'O';
    const src = old ?? tuple!;
    const values: unknown[] = [];
    const parts: string[] = [];
    rel.columns.forEach((c, i) => {
      if (!full && !c.key) return;
      const v = src[i];
      if (v === 'unchanged' || v === undefined) return;
      if (v === null) parts.push(`${quoteIdent(c.name)} IS NULL`);
      else {
        values.push(v.toString('utf8'));
        parts.push(full ? `${quoteIdent(c.name)}::text = $${start + values.length}::text` : `${quoteIdent(c.name)} = $${start + values.length}`);
      }
    });
    if (parts.length === 0) throw new IntegrityError('replay_no_identity', `a change of ${rel.schema}.${rel.name} carries no key`, { hint: 'the table had no primary key or replica identity when it was captured' });
    return { sql: parts.join(' AND '), values };
  }

  private async run(text: string, values: unknown[], expectOne: boolean, what: string): Promise<void> {
    const res = await this.client.query({ name: `axp_${sha256Hex(text).slice(0, 16)}`, text, values });
    if (expectOne && res.rowCount !== 1) {
      throw new IntegrityError('replay_mismatch', `${what} matched ${res.rowCount} rows instead of 1 while replaying`, { hint: 'the chain does not match its base backup; verify it (axisor-db backup verify) and restore an earlier backup' });
    }
  }
}
