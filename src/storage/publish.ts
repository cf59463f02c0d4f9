import { selfHolder, writerGone } from './keys.ts';
import type { LockHolder, ObjectInfo, Repository } from './types.ts';

/**
 * The publish protocol of a backup in a repository, whatever the backup format: objects under `<id>/`, an owner
 * record first, the manifest last. A prefix with a manifest is published; one without is a run in progress or
 * one that died, and is never listed as a backup.
 */
export const OWNER_OBJECT = 'owner.json';

export interface BackupPrefix {
  id: string;
  objects: ObjectInfo[];
  published: boolean;
}

export interface PublishNames {
  /** Which first path segments are backup ids. */
  isId: (segment: string) => boolean;
  /** The object whose presence publishes a backup (e.g. 'manifest.json'). */
  manifest: string;
}

/** Every backup prefix, published or not, in id order. */
export async function listBackupPrefixes(repo: Repository, names: PublishNames): Promise<BackupPrefix[]> {
  const byId = new Map<string, ObjectInfo[]>();
  for (const o of await repo.list('')) {
    const slash = o.key.indexOf('/');
    if (slash < 0) continue;
    const id = o.key.slice(0, slash);
    if (!names.isId(id)) continue;
    (byId.get(id) ?? byId.set(id, []).get(id)!).push(o);
  }
  return [...byId.keys()].sort().map((id) => {
    const objects = byId.get(id)!;
    return { id, objects, published: objects.some((o) => o.key === `${id}/${names.manifest}`) };
  });
}

/** The first object of a run: who writes this prefix, so a later run can tell a dead writer's leftovers. */
export async function claimBackup(repo: Repository, id: string, label?: string): Promise<void> {
  await repo.put(`${id}/${OWNER_OBJECT}`, JSON.stringify(selfHolder(label)));
}

export interface SweepOptions extends PublishNames {
  /** A prefix without an owner record younger than this may be a run that is just starting. Default 60 s. */
  graceMs?: number;
  /** An owner on another host is presumed dead after this long (its liveness cannot be checked). Default 24 h. */
  otherHostAfterMs?: number;
  now?: number;
}

/** Removes unpublished prefixes whose writer is gone. Returns the ids removed. Published backups are never touched. */
export async function sweepAbandoned(repo: Repository, opts: SweepOptions): Promise<string[]> {
  const now = opts.now ?? Date.now();
  const removed: string[] = [];
  for (const p of await listBackupPrefixes(repo, opts)) {
    if (p.published) continue;
    const ownerObj = p.objects.find((o) => o.key === `${p.id}/${OWNER_OBJECT}`);
    let gone: boolean;
    if (ownerObj) {
      const owner = await repo.getBuffer(ownerObj.key).then((b) => JSON.parse(b.toString('utf8')) as LockHolder, () => null);
      gone = writerGone(owner, ownerObj.modifiedAt, opts.otherHostAfterMs ?? 24 * 3_600_000, now);
    } else {
      const newest = Math.max(...p.objects.map((o) => o.modifiedAt.getTime()));
      gone = now - newest > (opts.graceMs ?? 60_000);
    }
    if (gone) {
      await repo.deletePrefix(`${p.id}/`);
      removed.push(p.id);
    }
  }
  return removed;
}

/**
 * Deletes a backup: its publishing objects first (the manifest and its checksum/MAC), so a crash midway leaves an
 * unpublished prefix that sweepAbandoned removes later, never a listed backup with missing files.
 */
export async function unpublishAndDelete(repo: Repository, id: string, publishing: string[]): Promise<number> {
  for (const name of publishing) await repo.delete(`${id}/${name}`);
  return repo.deletePrefix(`${id}/`);
}
