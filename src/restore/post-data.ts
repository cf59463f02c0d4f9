import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TableEntry } from '../archive/manifest.ts';
import { runPgTool, type PgTool } from '../pgtools/index.ts';
import { planPostData, type PostDataItem } from './schedule.ts';
import { postDataEntries } from './toc.ts';

/**
 * How many columns an index or key of a post-data statement sorts on (`USING btree (a, b)`, `PRIMARY KEY (id)`):
 * a two-column build costs more than a one-column one, so it starts first (no lone long build at the end).
 */
export function keyColumns(sql: string): number {
  const m = /(?:USING \w+|PRIMARY KEY|UNIQUE(?: NULLS NOT DISTINCT)?) \(/.exec(sql);
  if (!m) return 1;
  let depth = 1;
  let n = 1;
  for (let i = m.index + m[0].length; i < sql.length && depth > 0; i++) {
    const ch = sql[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 1) n++;
    else if (ch === '"') while (++i < sql.length && sql[i] !== '"');
  }
  return n;
}

/** A per-table post-data item with its SQL (pg_restore's script of its entries, with the session settings before it). */
export type PostDataStatement = PostDataItem & { sql: string };

/**
 * Splits pg_restore's script of the items' entries into one statement batch per item: the script's session
 * settings (its preamble, and the last `SET default_tablespace`/`default_table_access_method` before the item),
 * then the item's blocks. Null when the blocks do not match the items one to one (then the caller restores
 * post-data with pg_restore as a whole).
 */
export function splitPostDataScript(script: string, items: PostDataItem[]): PostDataStatement[] | null {
  const parts = script.split('\n--\n-- Name: ');
  // The script was decoded from the archive's encoding (runPgTool outputEncoding) and our sessions stay in UTF8
  // (node-postgres sends and decodes UTF8): its SET client_encoding goes; the psql-only \\restrict lines are not SQL.
  const preamble = parts[0]!.split('\n').filter((l) => !/^\\(un)?restrict /.test(l) && !/^SET client_encoding = /.test(l)).join('\n');
  if (/^\\/m.test(preamble)) return null;
  const state = new Map<string, string>();
  const setLine = /^SET (default_tablespace|default_table_access_method) = .*;$/gm;
  for (const m of preamble.matchAll(setLine)) state.set(m[1]!, m[0]);
  const out: PostDataStatement[] = [];
  const blocks: number[] = [];
  let k = -1;
  for (const block of parts.slice(1)) {
    const type = /^.*?; Type: (.*?); Schema: /.exec(block)?.[1];
    const body = block.slice(block.indexOf('\n--\n') + 4).split('\n').filter((l) => !/^\\(un)?restrict /.test(l)).join('\n');
    if (type === undefined || /^\\/m.test(body)) return null;
    const prefix = [...state.values()].join('\n');
    if (type === 'COMMENT' || type === 'SECURITY LABEL') {
      if (k < 0) return null;
      out[k]!.sql += `\n${body}`;
      blocks[k]!++;
    } else {
      const it = items[++k];
      if (!it || it.desc !== type) return null;
      out.push({ ...it, sql: `${preamble}\n${prefix}\n${body}` });
      blocks.push(1);
    }
    for (const m of body.matchAll(setLine)) state.set(m[1]!, m[0]);
  }
  if (out.length !== items.length || items.some((it, i) => it.ids.length !== blocks[i])) return null;
  return out;
}

/**
 * The per-table post-data plan with each item's SQL, or null to restore post-data with pg_restore as before.
 * `restHasWork`: whether pg_restore --section=post-data has anything to do with the rest (from the archive's TOC).
 */
export async function planPostDataSql(pgRestore: PgTool, schemaFile: string, flags: string[], list: string, verbose: string, tables: TableEntry[], env: Readonly<Record<string, string | undefined>>, dir: string, encoding: string):
    Promise<{ items: PostDataStatement[]; rest: string; restHasWork: boolean } | null> {
  const plan = planPostData(verbose, list, tables);
  const restHasWork = postDataEntries(verbose, plan.rest, { noAcl: flags.includes('--no-privileges') }).length > 0;
  if (plan.items.length === 0) return { items: [], rest: plan.rest, restHasWork };
  const byId = new Map<number, string>();
  for (const line of list.split('\n')) {
    const m = /^(\d+);/.exec(line);
    if (m) byId.set(Number(m[1]), line);
  }
  writeFileSync(join(dir, 'post-items.list'), `${plan.items.flatMap((i) => i.ids.map((id) => byId.get(id)!)).join('\n')}\n`, { mode: 0o600 });
  const script = (await runPgTool(pgRestore, ['--section=post-data', ...flags, '-f', '-', '-L', join(dir, 'post-items.list'), schemaFile], undefined, { baseEnv: env, outputEncoding: encoding })).stdout;
  const items = splitPostDataScript(script, plan.items);
  return items && { items, rest: plan.rest, restHasWork };
}
