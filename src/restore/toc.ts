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
