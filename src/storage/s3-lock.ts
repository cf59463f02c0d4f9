import { LockHeldError } from '../errors.ts';
import { checkLockName, DEFAULT_STALE_MS, describeHolder, refreshedLock, selfHolder, sleep, uniqueToken, writerGone } from './keys.ts';
import { INTERNAL_PREFIX, type LockHandle, type LockHolder, type LockOptions, type ObjectInfo } from './types.ts';

/** What the lock needs of an object store: small puts, listing, reads and deletes in the internal area. */
export interface LockStore {
  location: string;
  putSmall(key: string, body: string | Buffer): Promise<void>;
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Rejects with exit code 66 when the object does not exist. */
  read(key: string): Promise<Buffer>;
  remove(key: string): Promise<void>;
}

/** Lock candidates younger than this are contention (retry), older ones a real holder (LOCK_HELD when out of time). */
const CONTENTION_MS = 10_000;
const CONTENTION_ROUNDS = 5;

const notFound = (err: unknown) => (err as { exitCode?: number }).exitCode === 66;

/**
 * One holder per name without conditional writes (not every S3-compatible server honours If-None-Match):
 * each contender stores its own candidate object, then lists all candidates; it holds the lock only if it
 * sees no other live candidate, and otherwise withdraws its own and retries. S3's strong read-after-write
 * consistency for PUT and LIST (AWS since 2020, MinIO, Ceph) makes two winners impossible: of two contenders,
 * the one that listed second must see the other's candidate. Two contenders can both withdraw; they back off
 * with jitter and retry. A holder refreshes its candidate; one not refreshed for staleAfterMs (or whose pid is
 * gone, on this host) is removed by the next contender.
 */
export async function acquireListLock(store: LockStore, name: string, opts: LockOptions): Promise<LockHandle> {
  checkLockName(name);
  const staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_MS;
  const lockPrefix = `${INTERNAL_PREFIX}locks/${name}/`;
  const token = uniqueToken();
  const owner = selfHolder(opts.label);
  const deadline = Date.now() + opts.waitMs;
  for (let attempt = 1; ; attempt++) {
    const mine = `${lockPrefix}${String(Date.now()).padStart(15, '0')}-${token}.json`;
    await store.putSmall(mine, JSON.stringify({ ...owner, token }));
    const live: Array<{ owner: LockHolder | null; since: number }> = [];
    for (const o of await store.list(lockPrefix)) {
      if (o.key === mine) continue;
      const other = await store.read(o.key).then((b) => JSON.parse(b.toString('utf8')) as LockHolder, (err) => (notFound(err) ? undefined : null));
      if (other === undefined) continue; // withdrawn meanwhile
      if (writerGone(other, o.modifiedAt, staleAfterMs)) {
        await store.remove(o.key).catch(() => {});
        continue;
      }
      live.push({ owner: other, since: Number(/(\d{15})-/.exec(o.key)?.[1] ?? 0) });
    }
    if (live.length === 0) return lockHandle(store, name, mine, staleAfterMs);
    await store.remove(mine);
    const contention = live.every((l) => Date.now() - l.since < CONTENTION_MS);
    if (Date.now() >= deadline && !(contention && attempt < CONTENTION_ROUNDS)) {
      const holder = live.sort((a, b) => a.since - b.since)[0]!.owner;
      throw new LockHeldError(`the lock ${name} in ${store.location} is held by ${describeHolder(holder)}`, { hint: 'wait for that run to finish, or raise --wait', details: { holder } });
    }
    await sleep(100 + Math.random() * 400);
  }
}

function lockHandle(store: LockStore, name: string, key: string, staleAfterMs: number): LockHandle {
  const refresh = async () => {
    // Gone (404): another run judged us dead and took over. Any other failure (a network blip): try next round.
    const body = await store.read(key).catch((err) => (notFound(err) ? null : undefined));
    if (body === undefined) return;
    if (body === null) return 'lost' as const;
    await store.putSmall(key, body);
  };
  return refreshedLock(name, staleAfterMs, refresh, () => store.remove(key));
}
