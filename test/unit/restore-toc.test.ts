import { expect, test } from '@jest/globals';
import { parseTocVerbose, planExtensionSkip, tocExtensions } from '../../src/restore/toc.ts';

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
