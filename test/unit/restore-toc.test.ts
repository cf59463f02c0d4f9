import { expect, test } from '@jest/globals';
import { planPostData } from '../../src/restore/schedule.ts';
import { parseTocVerbose, planExtensionSkip, postDataEntries, tocExtensions } from '../../src/restore/toc.ts';

// `pg_restore -l -v` of a PostgreSQL 15 archive (pg_dump 15.20): hypopg (superuser-only) with a view on it and a grant
// on one of its views, pgcrypto (trusted) used by a table's default, a publication, default privileges of the owner.
const LIST = `;
; Archive created at 2026-11-30 12:47:01 UTC
;     dbname: src
;
; Selected TOC Entries:
;
3394; 0 0 ENCODING - ENCODING 
3397; 1262 215340 DATABASE - src postgres
3398; 0 0 ACL - SCHEMA public pg_database_owner
;	depends on: 7
2; 3079 215835 EXTENSION - hypopg 
3402; 0 0 COMMENT - EXTENSION hypopg 
;	depends on: 2
3; 3079 215848 EXTENSION - pgcrypto 
3403; 0 0 COMMENT - EXTENSION pgcrypto 
;	depends on: 3
262; 1255 215895 FUNCTION public f() app_owner
3401; 0 0 ACL public FUNCTION f() app_owner
;	depends on: 262
3406; 0 0 ACL public FUNCTION gen_random_bytes(integer) postgres
;	depends on: 260
3407; 0 0 ACL public TABLE hypopg_list_indexes postgres
;	depends on: 216
218; 1259 215889 TABLE public my t app_owner
;	depends on: 3
217; 1259 215885 VIEW public hypo v app_owner
;	depends on: 2 2 2
3404; 0 0 ACL public TABLE "hypo v" app_owner
;	depends on: 217
3395; 0 215889 TABLE DATA public my t app_owner
;	depends on: 218
3405; 826 215900 DEFAULT ACL public DEFAULT PRIVILEGES FOR TABLES app_owner
3410; 6104 213467 PUBLICATION - axisor_backup postgres
`;

test('parseTocVerbose: multi-word types, names with spaces, dependencies', () => {
  const e = parseTocVerbose(LIST);
  expect(e.find((x) => x.id === 3395)).toMatchObject({ desc: 'TABLE DATA', rest: 'public my t app_owner', deps: [218] });
  expect(e.find((x) => x.id === 3405)).toMatchObject({ desc: 'DEFAULT ACL' });
  expect(e.find((x) => x.id === 217)!.deps).toEqual([2, 2, 2]);
  expect(tocExtensions(LIST)).toEqual(['hypopg', 'pgcrypto']);
});

test('a superuser restores everything but the backup\'s own publication', () => {
  const p = planExtensionSkip(LIST, { extensions: [], publications: ['axisor_backup'], superuser: true });
  expect(p.droppedPublications).toEqual(['axisor_backup']);
  expect(p.list).not.toContain('PUBLICATION');
  expect(p.list.split('\n').filter(Boolean)).toHaveLength(parseTocVerbose(LIST).length - 1);
  expect(p.list).not.toMatch(/^;/m); // plain entries for -L
});

test('without hypopg: the extension, its comment, the view on it and that view\'s grant go; a grant on its member too; the rest stays', () => {
  const p = planExtensionSkip(LIST, { extensions: ['hypopg'], publications: ['axisor_backup'], superuser: false });
  expect(p.droppedExtensions).toEqual(['hypopg']);
  expect(p.droppedDependents).toEqual(['VIEW public.hypo v']);
  expect(p.droppedMemberGrants).toEqual(['grants on public FUNCTION gen_random_bytes(integer)', 'grants on public TABLE hypopg_list_indexes']);
  expect(p.blockingTables).toEqual([]);
  const kept = p.list.split('\n').filter(Boolean).map((l) => Number(l.split(';')[0]));
  expect(kept).toEqual([3394, 3397, 3398, 3, 3403, 262, 3401, 218, 3395, 3405]);
});

test('a table that uses a skipped extension blocks (its data would be lost); other roles\' default privileges go only when asked', () => {
  const p = planExtensionSkip(LIST, { extensions: ['pgcrypto'], publications: [], superuser: false, defaultAclsOnlyOf: 'axisor_restore' });
  expect(p.blockingTables).toEqual(['TABLE public.my t']);
  expect(p.droppedDefaultAcls).toEqual(['default privileges of role app_owner in schema public (for tables)']);
  const own = planExtensionSkip(LIST, { extensions: [], publications: [], superuser: false, defaultAclsOnlyOf: 'app_owner' });
  expect(own.droppedDefaultAcls).toEqual([]);
});

// `pg_restore -l -v` of a schema-only PostgreSQL 15 archive (pg_dump 15.20) with post-data entries of most types: a
// partitioned index and its partition's index attached to it, a rule, a view whose definition (its _RETURN rule)
// waits for t's key it groups by, a materialized view postponed past that key, check constraints dumped apart, a
// publication, default privileges, an event trigger. The expectations below are what pg_restore 15 printed for
// the same lists (pg_restore --section=post-data -f - -L list).
const SECTIONS = `;
; Selected TOC Entries:
;
3395; 0 0 ENCODING - ENCODING 
3396; 0 0 STDSTRINGS - STDSTRINGS 
3397; 0 0 SEARCHPATH - SEARCHPATH 
3398; 1262 35421 DATABASE - src postgres
867; 1247 35465 DOMAIN public pos postgres
223; 1255 35475 FUNCTION public evt() postgres
222; 1255 35445 FUNCTION public trg() postgres
221; 1259 35467 TABLE public f postgres
3399; 0 0 ACL public TABLE f postgres
;	depends on: 221
217; 1259 35439 TABLE public log postgres
220; 1259 35457 MATERIALIZED VIEW public mv_plain postgres
214; 1259 35422 TABLE public p postgres
215; 1259 35425 TABLE public p_1 postgres
;	depends on: 214
216; 1259 35432 TABLE public t postgres
3400; 0 0 ACL public TABLE t postgres
;	depends on: 216
219; 1259 35453 VIEW public v postgres
3232; 0 0 TABLE ATTACH public p_1 postgres
;	depends on: 215 214
3238; 2606 35437 CONSTRAINT public t t_pkey postgres
;	depends on: 216
218; 1259 35449 MATERIALIZED VIEW public mv postgres
;	depends on: 216 216 3238
868; 2606 35466 CHECK CONSTRAINT public pos pos_check postgres
;	depends on: 867
3234; 2606 35438 CHECK CONSTRAINT public t t_b_check postgres
;	depends on: 216 216
3235; 1259 35430 INDEX public p_k_idx postgres
;	depends on: 214
3401; 0 0 COMMENT public INDEX p_k_idx postgres
;	depends on: 3235
3236; 1259 35431 INDEX public p_1_k_idx postgres
;	depends on: 215 3235 215
3239; 0 0 INDEX ATTACH public p_1_k_idx postgres
;	depends on: 3236 3235 215 214
3240; 3381 35448 STATISTICS public t_stats postgres
;	depends on: 216 216
3387; 2618 35456 RULE public v _RETURN postgres
;	depends on: 3238 216 216 219
3385; 2618 35444 RULE public t t_log postgres
;	depends on: 216 217 216 217 216
3402; 0 0 COMMENT public RULE t_log ON t postgres
;	depends on: 3385
3242; 2620 35446 TRIGGER public t t_trg postgres
;	depends on: 222 216
3241; 2606 35470 FK CONSTRAINT public f f_id_fkey postgres
;	depends on: 216 221 3238
3389; 0 35432 ROW SECURITY public t postgres
;	depends on: 216
3390; 3256 35447 POLICY public t t_pol postgres
;	depends on: 216 216
3391; 6104 35461 PUBLICATION - pub postgres
3392; 6106 35462 PUBLICATION TABLE public pub t postgres
;	depends on: 3391 216
2068; 826 35463 DEFAULT ACL - DEFAULT PRIVILEGES FOR TABLES postgres
3231; 3466 35476 EVENT TRIGGER - evt postgres
;	depends on: 223
`;
const lines = (ids: number[]) => `${SECTIONS.split('\n').filter((l) => ids.includes(Number(l.split(';')[0]))).join('\n')}\n`;
const PRE_DATA = [3395, 3396, 3397, 3398, 867, 223, 222, 221, 3399, 217, 220, 214, 215, 216, 3400, 219, 3232];

test('parseTocVerbose: the attach, check constraint and security label types are one type each', () => {
  const desc = new Map(parseTocVerbose(SECTIONS).map((e) => [e.id, e.desc]));
  expect([desc.get(3232), desc.get(3239), desc.get(3234), desc.get(3392)]).toEqual(['TABLE ATTACH', 'INDEX ATTACH', 'CHECK CONSTRAINT', 'PUBLICATION TABLE']);
  expect(parseTocVerbose('3403; 0 0 SECURITY LABEL public TABLE t postgres\n')[0]!.desc).toBe('SECURITY LABEL');
});

test('postDataEntries: what pg_restore --section=post-data restores of a list, from the TOC (same as pg_restore 15 on these lines)', () => {
  const all = parseTocVerbose(SECTIONS).map((e) => e.id);
  // Everything after the first key: the postponed materialized view (218) too, and the comments on post-data entries.
  expect(postDataEntries(SECTIONS, lines(all), { noAcl: false })).toEqual(all.filter((id) => !PRE_DATA.includes(id)));
  // A restore's rest once each table's indexes, keys, triggers and policies are taken out: the attachment and the
  // rules are left to pg_restore, so there is post-data work.
  const rest = [...PRE_DATA, 3239, 3387, 3385, 3402];
  expect(postDataEntries(SECTIONS, lines(rest), { noAcl: false })).toEqual([3239, 3387, 3385, 3402]);
  // The same from the restore's plan: the foreign key set apart, p's, p_1's and t's items by the tables' OIDs.
  const plan = planPostData(SECTIONS, lines(all.filter((id) => id !== 3241)), [
    { schema: 'public', name: 'p', objects: [35422, 35430] }, { schema: 'public', name: 'p_1', objects: [35425, 35431] },
    { schema: 'public', name: 't', objects: [35432, 35437, 35446, 35447] },
  ]);
  expect(plan.items.map((i) => i.ids)).toEqual([[3238], [3235, 3401], [3236], [3242], [3390]]);
  expect(postDataEntries(SECTIONS, plan.rest, { noAcl: false })).toEqual([218, 868, 3234, 3239, 3240, 3387, 3385, 3402, 3389, 3391, 3392, 2068, 3231]);
  // Pre-data only (the tables, their grants): nothing for pg_restore to do in post-data.
  expect(postDataEntries(SECTIONS, lines(PRE_DATA), { noAcl: false })).toEqual([]);
  // --no-privileges leaves out default privileges.
  expect(postDataEntries(SECTIONS, lines([...PRE_DATA, 2068]), { noAcl: false })).toEqual([2068]);
  expect(postDataEntries(SECTIONS, lines([...PRE_DATA, 2068]), { noAcl: true })).toEqual([]);
});

test('postDataEntries: a comment goes with the listed entry before it, as pg_restore walks the list; an unknown type counts', () => {
  // The comment on the partitioned index without the index: after TABLE ATTACH in the list, so pg_restore counts it as
  // pre-data (in the archive it follows the index).
  expect(postDataEntries(SECTIONS, lines([...PRE_DATA, 3401]), { noAcl: false })).toEqual([]);
  expect(postDataEntries(SECTIONS, lines([...PRE_DATA, 3235, 3401]), { noAcl: false })).toEqual([3235, 3401]);
  // A type this code does not know (PostgreSQL 18's statistics) may be post-data: pg_restore is asked.
  const newer = SECTIONS.replace('3232; 0 0 TABLE ATTACH', '9000; 0 0 STATISTICS DATA public t \n3232; 0 0 TABLE ATTACH');
  expect(postDataEntries(newer, `9000; 0 0 STATISTICS DATA public t \n`, { noAcl: false })).toEqual([9000]);
});
