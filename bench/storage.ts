/**
 * Storage-layer benchmark: `npx tsx bench/storage.ts` (BENCH_MIB, default 256).
 * Writes and reads one incompressible object (like a zstd-compressed backup file) through the Repository
 * interface to a local directory and to an S3-compatible server on loopback (s3rver, as in the tests),
 * with and without client-side encryption, and prints MiB/s and the ratio to local.
 * s3rver runs in its own process and stores objects on the same disk, so the S3 figures measure the protocol
 * path (HTTP, SigV4, multipart, the SDK, and s3rver's own JavaScript), not a network.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeKey } from '../src/crypto/key.ts';
import { LocalRepository, parseS3Url, resolveS3Settings, S3Repository, type Repository } from '../src/storage/index.ts';
import { openObject } from '../src/storage/read.ts';
import { putStream } from '../src/storage/write.ts';
import { S3_TEST_CREDENTIALS, startS3ServerProcess } from '../test/helpers/s3-server.ts';
import { testStream } from '../test/helpers/storage-data.ts';

const MIB = Number(process.env.BENCH_MIB ?? 256);
const BYTES = MIB * 1024 * 1024;
const KEY = makeKey(Buffer.alloc(32, 3), 'bench');

const s3 = await startS3ServerProcess(['bench']);
const dir = await mkdtemp(join(tmpdir(), 'axisor-bench-storage-'));
const repos: Array<[string, Repository]> = [
  ['local', new LocalRepository(dir)],
  ['s3', new S3Repository(parseS3Url('s3://bench/b'), resolveS3Settings(s3.env()), { credentials: S3_TEST_CREDENTIALS })],
];
const results: Record<string, { put: number; get: number }> = {};
try {
  for (const [name, repo] of repos) {
    for (const enc of [false, true]) {
      const label = `${name}${enc ? '+enc' : ''}`;
      const t0 = process.hrtime.bigint();
      const stored = await putStream(repo, 'obj', testStream(BYTES), enc ? KEY : null);
      const t1 = process.hrtime.bigint();
      const h = createHash('sha256');
      for await (const c of await openObject(repo, 'obj', enc ? KEY : null, { size: stored.bytes })) h.update(c as Buffer);
      const t2 = process.hrtime.bigint();
      results[label] = { put: MIB / (Number(t1 - t0) / 1e9), get: MIB / (Number(t2 - t1) / 1e9) };
      await repo.delete('obj');
    }
    await repo.close();
  }
} finally {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}
console.log(`${MIB} MiB incompressible object, ${process.env.AXISOR_S3_PART_SIZE_MIB ?? 8} MiB parts:`);
console.log('target            put MiB/s   get MiB/s   put time vs local   get time vs local');
for (const [label, r] of Object.entries(results)) {
  const base = results[label.includes('+enc') ? 'local+enc' : 'local']!;
  console.log(`${label.padEnd(16)}  ${r.put.toFixed(0).padStart(9)}   ${r.get.toFixed(0).padStart(9)}   ${(base.put / r.put).toFixed(2).padStart(17)}x   ${(base.get / r.get).toFixed(2).padStart(17)}x`);
}
