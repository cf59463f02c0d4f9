/**
 * pg_stat_statements replaces a typed literal's string with a parameter: `interval '1 day'` is stored as
 * `interval $2`, which PostgreSQL's grammar does not accept back (libpg_query's does). Such a text cannot be
 * PREPAREd, so it is rewritten to the equivalent cast `$2::interval` before planning. In the parse tree a
 * typed literal is a TypeCast whose type name comes BEFORE its ParamRef (in `$2::date` it comes after).
 * Locations are byte offsets into the UTF-8 text.
 */
export function repairTypedParams(sql: string, tree: unknown): string {
  const edits: Array<{ start: number; end: number; text: string }> = [];
  const buf = Buffer.from(sql, 'utf8');
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) { n.forEach(walk); return; }
    if (!n || typeof n !== 'object') return;
    const cast = (n as Record<string, any>).TypeCast;
    const param = cast?.arg?.ParamRef;
    const typeLoc = cast?.typeName?.location;
    if (param && typeof typeLoc === 'number' && typeLoc >= 0 && typeof param.location === 'number' && typeLoc < param.location) {
      const marker = `$${param.number}`;
      const end = param.location + Buffer.byteLength(marker);
      if (buf.subarray(param.location, end).toString('utf8') === marker) {
        const typeText = buf.subarray(typeLoc, param.location).toString('utf8').trim();
        edits.push({ start: typeLoc, end, text: `${marker}::${typeText}` });
      }
    }
    for (const v of Object.values(n as object)) walk(v);
  };
  walk(tree);
  if (edits.length === 0) return sql;
  edits.sort((a, b) => b.start - a.start);
  let out = buf;
  for (const e of edits) out = Buffer.concat([out.subarray(0, e.start), Buffer.from(e.text, 'utf8'), out.subarray(e.end)]);
  return out.toString('utf8');
}
