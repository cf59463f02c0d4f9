import type { TableEntry } from '../backup/manifest.ts';

/**
 * Builds a pg_restore -L list that keeps the chosen tables and everything that is not table-specific (types,
 * functions, schemas, extensions), and drops the other tables with their indexes, constraints, triggers,
 * defaults, owned sequences, comments and grants. Entries are matched by the source catalog OIDs the manifest
 * recorded (pg_restore -l prints them), not by parsing names, which may contain spaces.
 * Foreign keys to tables that are not restored are dropped too (they could not be created).
 */
export function filterTocList(list: string, tables: TableEntry[], keep: Set<string>): { list: string; droppedForeignKeys: number } {
  const name = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;
  const dropped = tables.filter((t) => !keep.has(name(t)));
  const dropOids = new Set<number>();
  for (const t of dropped) {
    for (const o of t.objects) dropOids.add(o);
    for (const f of t.fkeys) dropOids.add(f.oid);
  }
  let droppedForeignKeys = 0;
  for (const t of tables.filter((x) => keep.has(name(x)))) {
    for (const f of t.fkeys) if (!keep.has(f.ref)) (dropOids.add(f.oid), droppedForeignKeys++);
  }
  const nilRefs = dropped.flatMap((t) => [
    ` TABLE ${t.name} `, ` COLUMN ${t.name}.`, ...t.ownedSequences.flatMap((s) => [` SEQUENCE ${s} `, `SEQUENCE OWNED BY ${t.schema} ${s} `]),
  ]);
  const out: string[] = [];
  for (const line of list.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    const oid = Number(m[3]);
    if (oid !== 0 && dropOids.has(oid)) continue;
    if (oid === 0 && nilRefs.some((r) => ` ${m[4]} `.includes(r))) continue;
    out.push(line);
  }
  return { list: `${out.join('\n')}\n`, droppedForeignKeys };
}

/** An EXTENSION entry of a pg_restore -l list: `2; 3079 213374 EXTENSION - hypopg `. */
const EXTENSION_LINE = /^\d+; \d+ \d+ EXTENSION - (\S+)\s*$/;
/** Its comment: `3418; 0 0 COMMENT - EXTENSION hypopg `. */
const EXTENSION_COMMENT_LINE = /^\d+; \d+ \d+ COMMENT - EXTENSION (\S+)\s*$/;
/** A publication: `3410; 6104 213467 PUBLICATION - axisor_backup postgres`. */
const PUBLICATION_LINE = /^\d+; \d+ \d+ PUBLICATION - (\S+)(?: \S+)?\s*$/;

/** The extensions a pg_restore -l list creates, in list order. */
export function tocExtensions(list: string): string[] {
  const out: string[] = [];
  for (const line of list.split('\n')) {
    const m = EXTENSION_LINE.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/**
 * Drops from a pg_restore -l list the EXTENSION (and COMMENT ON EXTENSION) entries of `extensions` and the
 * publications named in `publications` (the backup's own `axisor_backup`: a restored copy must not publish every
 * table, and only a superuser may create a FOR ALL TABLES publication on PostgreSQL 15). Header lines are kept.
 */
export function filterTocEntries(list: string, drop: { extensions?: Iterable<string>; publications?: Iterable<string> }): { list: string; droppedExtensions: string[]; droppedPublications: string[] } {
  const ext = new Set(drop.extensions ?? []);
  const pubs = new Set(drop.publications ?? []);
  const droppedExtensions: string[] = [];
  const droppedPublications: string[] = [];
  const out: string[] = [];
  for (const line of list.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = EXTENSION_LINE.exec(line)) && ext.has(m[1]!)) {
      droppedExtensions.push(m[1]!);
      continue;
    }
    if ((m = EXTENSION_COMMENT_LINE.exec(line)) && ext.has(m[1]!)) continue;
    if ((m = PUBLICATION_LINE.exec(line)) && pubs.has(m[1]!)) {
      droppedPublications.push(m[1]!);
      continue;
    }
    out.push(line);
  }
  return { list: out.join('\n'), droppedExtensions, droppedPublications };
}
