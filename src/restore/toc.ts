import type { TableEntry } from '../archive/manifest.ts';

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

/** One entry of `pg_restore -l -v`: `217; 1259 215885 VIEW public v postgres` and its `;\tdepends on: 2 5` line. */
export interface TocEntry {
  id: number;
  line: string;
  /** The entry's type: EXTENSION, TABLE, TABLE DATA, ACL, COMMENT, VIEW, FK CONSTRAINT... */
  desc: string;
  /** What follows the type: schema (or -), name and owner, as pg_restore prints them. */
  rest: string;
  deps: number[];
}

/** pg_dump's entry types that are more than one word (the others are the first word after the OIDs). */
const MULTI_WORD = ['TABLE DATA', 'TABLE ATTACH', 'SEQUENCE SET', 'SEQUENCE OWNED BY', 'FK CONSTRAINT', 'CHECK CONSTRAINT', 'INDEX ATTACH', 'MATERIALIZED VIEW DATA', 'MATERIALIZED VIEW',
  'DEFAULT ACL', 'PUBLICATION TABLES IN SCHEMA', 'PUBLICATION TABLE', 'FOREIGN TABLE', 'FOREIGN DATA WRAPPER', 'FOREIGN SERVER', 'USER MAPPING', 'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY', 'TEXT SEARCH PARSER', 'TEXT SEARCH TEMPLATE', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'EVENT TRIGGER', 'LARGE OBJECTS', 'LARGE OBJECT', 'ROW SECURITY',
  'SHELL TYPE', 'PROCEDURAL LANGUAGE', 'ACCESS METHOD', 'DATABASE PROPERTIES', 'SECURITY LABEL', 'ACL LANGUAGE', 'BLOB METADATA', 'BLOB DATA', 'BLOB'];

/** Parses a `pg_restore -l -v` list (entries with their dependencies); comment and header lines are dropped. */
export function parseTocVerbose(list: string): TocEntry[] {
  const out: TocEntry[] = [];
  for (const line of list.split('\n')) {
    const dep = /^;\s*depends on:\s*(.*)$/.exec(line);
    if (dep && out.length > 0) {
      out[out.length - 1]!.deps.push(...dep[1]!.trim().split(/\s+/).filter(Boolean).map(Number));
      continue;
    }
    const m = /^(\d+); \d+ \d+ (.*)$/.exec(line);
    if (!m) continue;
    const body = m[2]!;
    const desc = MULTI_WORD.find((d) => body.startsWith(`${d} `)) ?? body.split(' ')[0]!;
    out.push({ id: Number(m[1]), line, desc, rest: body.slice(desc.length + 1).trim(), deps: [] });
  }
  return out;
}

// pg_dump gives every TOC entry a section, but `pg_restore -l -v` does not print it: it follows from the type
// (pg_dump.c, PostgreSQL 15: the ArchiveEntry calls' .section, and addBoundaryDependencies). Post-data are the
// others: INDEX, INDEX ATTACH, CONSTRAINT, CHECK CONSTRAINT (one dumped apart), FK CONSTRAINT, TRIGGER, EVENT TRIGGER,
// RULE, POLICY, ROW SECURITY, STATISTICS, MATERIALIZED VIEW DATA, PUBLICATION (TABLE, TABLES IN SCHEMA),
// SUBSCRIPTION, DEFAULT ACL.
const PRE_DATA_TYPES = new Set(['ENCODING', 'STDSTRINGS', 'SEARCHPATH', 'DATABASE', 'DATABASE PROPERTIES', 'SCHEMA', 'EXTENSION', 'TYPE', 'SHELL TYPE', 'DOMAIN',
  'FUNCTION', 'PROCEDURE', 'AGGREGATE', 'OPERATOR', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'ACCESS METHOD', 'COLLATION', 'CONVERSION', 'CAST', 'TRANSFORM',
  'PROCEDURAL LANGUAGE', 'TEXT SEARCH PARSER', 'TEXT SEARCH TEMPLATE', 'TEXT SEARCH DICTIONARY', 'TEXT SEARCH CONFIGURATION', 'FOREIGN DATA WRAPPER', 'SERVER',
  'FOREIGN SERVER', 'USER MAPPING', 'TABLE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE', 'SEQUENCE', 'SEQUENCE OWNED BY', 'DEFAULT', 'TABLE ATTACH', 'BLOB',
  'LARGE OBJECT', 'BLOB METADATA']);
const DATA_TYPES = new Set(['TABLE DATA', 'SEQUENCE SET', 'BLOBS', 'LARGE OBJECTS']);
/** No section of their own: pg_restore counts them in the section of the entry before them (ProcessArchiveRestoreOptions). */
const NO_SECTION = new Set(['COMMENT', 'SECURITY LABEL', 'ACL', 'ACL LANGUAGE']);
/** What --no-privileges leaves out (pg_backup_archiver.c _tocEntryIsACL). */
const ACL_TYPES = new Set(['ACL', 'ACL LANGUAGE', 'DEFAULT ACL']);
const SECTIONS = ['pre-data', 'data', 'post-data'] as const;
type Section = (typeof SECTIONS)[number];

/**
 * The ids of the entries of a pg_restore -L `list` that `pg_restore --section=post-data` restores, decided from the
 * archive's `pg_restore -l -v` (`verbose`) instead of a pg_restore run. pg_dump writes the sections in order, so an
 * entry after a post-data one is post-data too whatever its type (a materialized view postponed past the key it
 * depends on). A type not known to be pre-data or data counts as post-data: at worst pg_restore then runs for
 * nothing, where the opposite mistake would leave objects out. Entries of no section go with the entry before them
 * as pg_restore walks it: the unlisted entries first, then the list's in its order (SortTocFromFile).
 */
export function postDataEntries(verbose: string, list: string, o: { noAcl: boolean }): number[] {
  const entries = parseTocVerbose(verbose);
  const sectionOf = new Map<number, Section>();
  let cur = 0;
  for (const e of entries) {
    if (NO_SECTION.has(e.desc)) continue;
    cur = Math.max(cur, PRE_DATA_TYPES.has(e.desc) ? 0 : DATA_TYPES.has(e.desc) ? 1 : 2);
    sectionOf.set(e.id, SECTIONS[cur]!);
  }
  const listed = [...list.matchAll(/^(\d+);/gm)].map((m) => Number(m[1]));
  const inList = new Set(listed);
  const byId = new Map(entries.map((e) => [e.id, e]));
  let section: Section = 'pre-data';
  const out: number[] = [];
  for (const id of [...entries.map((e) => e.id).filter((x) => !inList.has(x)), ...listed]) {
    const e = byId.get(id);
    if (!e || !NO_SECTION.has(e.desc)) section = e ? sectionOf.get(id)! : 'post-data'; // not in the archive's TOC: let pg_restore judge it
    if (inList.has(id) && section === 'post-data' && !(o.noAcl && e && ACL_TYPES.has(e.desc))) out.push(id);
  }
  return out;
}

/** A readable name of an entry: `VIEW public.v`, `ACL on public TABLE hypopg_list_indexes` (the owner left off). */
export function tocLabel(e: TocEntry): string {
  const parts = e.rest.split(' ');
  const withoutOwner = parts.length > 2 ? parts.slice(0, -1) : parts;
  if (e.desc === 'ACL' || e.desc === 'COMMENT') return `${e.desc === 'ACL' ? 'grants on' : 'comment on'} ${withoutOwner.filter((p) => p !== '-').join(' ')}`;
  const [schema, ...name] = withoutOwner;
  return `${e.desc} ${schema === '-' ? name.join(' ') : `${schema}.${name.join(' ')}`}`;
}

export interface ExtensionSkipPlan {
  /** The list to give pg_restore -L (one entry a line, no dependency lines). */
  list: string;
  droppedExtensions: string[];
  /** Objects that depend on a skipped extension (views on its functions...), left out with it. */
  droppedDependents: string[];
  /** Grants on objects the archive does not create (extension members, system functions): only their owner, a superuser, may grant them. */
  droppedMemberGrants: string[];
  /** Tables that depend on a skipped extension (a column of its type, a default calling it): the restore cannot leave them out. */
  blockingTables: string[];
  droppedPublications: string[];
  /** ALTER DEFAULT PRIVILEGES FOR ROLE x of other roles (--no-owner without membership of x): `default privileges of x in public`. */
  droppedDefaultAcls: string[];
}

/**
 * What a role that is not a superuser can restore of a schema archive: without the `extensions` it may not create
 * and the objects that depend on them (pg_dump points such dependencies at the extension), without grants on objects
 * the archive does not create (`superuser` false: those need their owner), and never with the `publications`
 * (the backup's own axisor_backup). Tables depending on a skipped extension are reported, not dropped: their data
 * would be lost.
 */
export function planExtensionSkip(verboseList: string, o: { extensions: string[]; publications: string[]; superuser: boolean; defaultAclsOnlyOf?: string }): ExtensionSkipPlan {
  const entries = parseTocVerbose(verboseList);
  const ids = new Set(entries.map((e) => e.id));
  const drop = new Set<number>();
  const droppedExtensions: string[] = [];
  const droppedPublications: string[] = [];
  for (const e of entries) {
    const name = e.rest.split(' ')[1] ?? '';
    if (e.desc === 'EXTENSION' && o.extensions.includes(name)) (drop.add(e.id), droppedExtensions.push(name));
    if (e.desc === 'PUBLICATION' && o.publications.includes(name)) (drop.add(e.id), droppedPublications.push(name));
  }
  // Everything that depends, directly or not, on a dropped entry goes too (comments, grants, views...).
  const roots = new Set(drop);
  for (let grew = true; grew;) {
    grew = false;
    for (const e of entries) if (!drop.has(e.id) && e.deps.some((d) => drop.has(d))) (drop.add(e.id), (grew = true));
  }
  const dependents = entries.filter((e) => drop.has(e.id) && !roots.has(e.id));
  const blockingTables = dependents.filter((e) => e.desc === 'TABLE' || e.desc === 'FOREIGN TABLE' || e.desc === 'MATERIALIZED VIEW').map(tocLabel);
  const droppedDependents = dependents.filter((e) => !['COMMENT', 'ACL', 'TABLE DATA', 'MATERIALIZED VIEW DATA'].includes(e.desc) && !(e.desc === 'COMMENT' && e.rest.startsWith('- EXTENSION '))).map(tocLabel);
  const droppedMemberGrants: string[] = [];
  if (!o.superuser) {
    for (const e of entries) {
      // The public schema is not in the archive either, but the database owner (the restoring role) may grant on it.
      if (e.desc !== 'ACL' || drop.has(e.id) || e.deps.length === 0 || e.rest.startsWith('- SCHEMA ')) continue;
      if (e.deps.every((d) => !ids.has(d))) (drop.add(e.id), droppedMemberGrants.push(tocLabel(e)));
    }
  }
  // ALTER DEFAULT PRIVILEGES FOR ROLE x needs membership of x; with --no-owner the restoring role owns everything, so
  // the default privileges of the source's owners are left out (named) instead of failing the restore.
  const droppedDefaultAcls: string[] = [];
  if (o.defaultAclsOnlyOf !== undefined) {
    for (const e of entries) {
      if (e.desc !== 'DEFAULT ACL' || drop.has(e.id)) continue;
      const parts = e.rest.split(' ');
      const owner = parts[parts.length - 1]!;
      if (owner === o.defaultAclsOnlyOf) continue;
      drop.add(e.id);
      droppedDefaultAcls.push(`default privileges of role ${owner}${parts[0] && parts[0] !== '-' ? ` in schema ${parts[0]}` : ''} (${parts.slice(1, -1).join(' ').replace(/^DEFAULT PRIVILEGES /, '').toLowerCase()})`);
    }
  }
  return {
    list: `${entries.filter((e) => !drop.has(e.id)).map((e) => e.line).join('\n')}\n`,
    droppedExtensions, droppedDependents, droppedMemberGrants, blockingTables, droppedPublications, droppedDefaultAcls,
  };
}

/** The extensions a pg_restore -l list (plain or -v) creates, in list order: `2; 3079 213374 EXTENSION - hypopg `. */
export function tocExtensions(list: string): string[] {
  const out: string[] = [];
  for (const line of list.split('\n')) {
    const m = /^\d+; \d+ \d+ EXTENSION - (\S+)\s*$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}
