import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeKey } from '../../src/crypto/key.ts';
import { openObject, readParallel } from '../../src/storage/read.ts';
import { putStream } from '../../src/storage/write.ts';
import { claimBackup, listBackupPrefixes, sweepAbandoned, unpublishAndDelete } from '../../src/storage/publish.ts';
import { Readable } from 'node:stream';
import { LocalRepository, parseS3Url, resolveS3Settings, S3Repository, type Repository } from '../../src/storage/index.ts';
import { cliEnv, ROOT } from '../helpers/cli.ts';
import { S3_TEST_CREDENTIALS, startS3Server, type TestS3Server } from '../helpers/s3-server.ts';
import { expectedRange, sha256OfTestStream } from '../helpers/storage-data.ts';
import { waitFor } from '../helpers/wait.ts';

const BUCKET = 'axisor-storage-test';
// Larger than what the upload machinery itself holds (parts in flight, SDK and GC slack: ~70-80 MiB measured),
// so a writer that buffered the object could not pass the memory bound below.
const BIG = 192 * 1024 * 1024;
let s3: TestS3Server;
let localDir: string;

beforeAll(async () => {
  s3 = await startS3Server([BUCKET]);
  localDir = await mkdtemp(join(tmpdir(), 'axisor-storage-'));
});
afterAll(async () => {
  await s3?.stop();
  if (localDir) await rm(localDir, { recursive: true, force: true });
});

function s3Repo(opts: { bucket?: string; prefix?: string; endpoint?: string; accessKeyId?: string; maxAttempts?: number; partSizeMiB?: number } = {}): S3Repository {
  const env = s3.env({ AWS_ENDPOINT_URL_S3: opts.endpoint ?? s3.endpoint, AWS_MAX_ATTEMPTS: String(opts.maxAttempts ?? 3), AXISOR_S3_PART_SIZE_MIB: String(opts.partSizeMiB ?? 5) });
  return new S3Repository(parseS3Url(`s3://${opts.bucket ?? BUCKET}/${opts.prefix ?? 'suite'}`), resolveS3Settings(env), {
    credentials: { accessKeyId: opts.accessKeyId ?? S3_TEST_CREDENTIALS.accessKeyId, secretAccessKey: S3_TEST_CREDENTIALS.secretAccessKey },
  });
}

/** Runs test/helpers/storage-child.ts in its own process (so its RSS is its own). */
function child(location: string, key: string, bytes: number, delayMs = 0) {
  return execa(process.execPath, ['--import', 'tsx', 'test/helpers/storage-child.ts', location, key, String(bytes), String(delayMs)], {
    cwd: ROOT, env: cliEnv(s3.env({ AXISOR_S3_PART_SIZE_MIB: '5', AXISOR_S3_QUEUE_SIZE: '4' })), extendEnv: false, reject: false,
  });
}

async function readAll(repo: Repository, key: string, range?: { start: number; end?: number }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of await repo.get(key, range)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const impls: Array<[string, () => Repository, (prefix: string) => string]> = [
  ['local', () => new LocalRepository(localDir), () => localDir],
  ['s3', () => s3Repo(), () => `s3://${BUCKET}/suite`],
];

describe.each(impls)('%s repository', (kind, open, locationOf) => {
  test('put, stat, get, list by prefix, delete; the internal area is hidden and refused', async () => {
    const repo = open();
    try {
      await repo.probe();
      await repo.put('b1/data/a.copy', 'alpha');
      await repo.put('b1/manifest.json', Buffer.from('{"id":"b1"}'));
      await repo.put('b2/manifest.json', '{}');
      expect(await repo.stat('b1/data/a.copy')).toMatchObject({ key: 'b1/data/a.copy', bytes: 5 });
      expect(await repo.stat('b1/none')).toBeNull();
      expect((await repo.getBuffer('b1/manifest.json')).toString()).toBe('{"id":"b1"}');
      expect((await repo.list('b1/')).map((o) => o.key)).toEqual(['b1/data/a.copy', 'b1/manifest.json']);
      expect((await repo.list('b')).map((o) => o.key)).toEqual(['b1/data/a.copy', 'b1/manifest.json', 'b2/manifest.json']);
      expect((await repo.list('')).some((o) => o.key.startsWith('.axisor'))).toBe(false);
      await repo.put('b1/manifest.json', 'replaced');
      expect((await repo.getBuffer('b1/manifest.json')).toString()).toBe('replaced');
      await expect(repo.get('b1/missing')).rejects.toMatchObject({ exitCode: 66 });
      for (const bad of ['../x', '/abs', 'a//b', '.axisor/locks/x', 'dir/']) await expect(repo.put(bad, 'x')).rejects.toMatchObject({ exitCode: 64 });
      await repo.delete('b1/data/a.copy');
      await repo.delete('b1/data/a.copy');
      expect(await repo.stat('b1/data/a.copy')).toBeNull();
      expect(await repo.deletePrefix('b1/')).toBe(1);
      expect(await repo.deletePrefix('b2/')).toBe(1);
      expect(await repo.list('')).toEqual([]);
    } finally {
      await repo.close();
    }
  });

  test('streams a 192 MiB object from another process with bounded memory; ranged reads return the right bytes', async () => {
    const r = await child(locationOf('big'), 'big/data.bin', BIG);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.bytes).toBe(BIG);
    const growthMiB = (out.maxRssKiB - out.baselineRssKiB) / 1024;
    console.log(`${kind}: 192 MiB put in ${out.ms} ms, peak RSS ${(out.maxRssKiB / 1024).toFixed(0)} MiB (+${growthMiB.toFixed(0)} MiB over the baseline after imports)`);
    // A writer that buffered the object would grow by at least its size (192 MiB).
    expect(growthMiB).toBeLessThan(150);
    const repo = open();
    try {
      expect((await repo.stat('big/data.bin'))?.bytes).toBe(BIG);
      const h = createHash('sha256');
      for await (const c of await repo.get('big/data.bin')) h.update(c as Buffer);
      expect(h.digest('hex')).toBe(sha256OfTestStream(BIG));
      for (const [start, end] of [[0, 99], [5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10], [BIG - 1000, BIG - 1]] as const) {
        expect((await readAll(repo, 'big/data.bin', { start, end })).equals(expectedRange(start, end))).toBe(true);
      }
      expect((await readAll(repo, 'big/data.bin', { start: BIG - 10 })).equals(expectedRange(BIG - 10, BIG - 1))).toBe(true);
      // Parallel ranged GETs, emitted in order (a part size that does not divide the object).
      const hp = createHash('sha256');
      for await (const c of readParallel(repo, 'big/data.bin', BIG, { partSize: 7 * 1024 * 1024 + 3, concurrency: 4 })) hp.update(c as Buffer);
      expect(hp.digest('hex')).toBe(sha256OfTestStream(BIG));
      await repo.deletePrefix('big/');
    } finally {
      await repo.close();
    }
  });

  test('a writer killed mid-upload leaves nothing listed, and the next cleanup removes what it left', async () => {
    const repo = open();
    try {
      const proc = child(locationOf('killed'), 'killed/data.bin', BIG, 200);
      // Kill it once its upload is under way: a temporary file (local) or an upload marker (S3) exists.
      const started = async () => (kind === 'local'
        ? (await readdir(join(localDir, '.axisor', 'tmp')).catch(() => [])).length > 0
        : (await (repo as S3Repository).client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'suite/.axisor/uploads/' }))).KeyCount! > 0);
      for (let i = 0; i < 600 && !(await started()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await started()).toBe(true);
      // Kill it once some parts are sent: 10 MiB in the temporary file (local), two parts stored by s3rver (each
      // part it has received whole gets a <n>.md5 file in its upload directory).
      const partsSent = async () => (kind === 'local'
        ? (await Promise.all((await readdir(join(localDir, '.axisor', 'tmp'))).map(async (n) => (await stat(join(localDir, '.axisor', 'tmp', n)).catch(() => ({ size: 0 }))).size))).reduce((a, b) => a + b, 0) >= 10 * 1024 * 1024
        : (await readdir(join(s3.directory, BUCKET), { recursive: true })).filter((p) => /(^|\/)\d+\.md5$/.test(p)).length >= 2);
      await waitFor('some parts to be sent', partsSent);
      proc.kill('SIGKILL');
      const r = await proc;
      expect(r.signal).toBe('SIGKILL');
      expect(await repo.stat('killed/data.bin')).toBeNull();
      expect(await repo.list('killed/')).toEqual([]);
      const report = await repo.cleanupAbandoned({ olderThanMs: 3_600_000 });
      const found = [...report.aborted, ...report.leftOver];
      expect(found).toHaveLength(1);
      if (kind === 's3') {
        expect(found[0]).toMatchObject({ key: 'suite/killed/data.bin', uploadId: expect.any(String) });
        // s3rver cannot abort uploads: reported as left over, with the lifecycle-rule note. Real S3 aborts it.
        expect(report.leftOver).toHaveLength(1);
        expect(report.notes.join(' ')).toContain('AbortIncompleteMultipartUpload');
      } else {
        expect(report.aborted[0]!.via).toBe('temp-file');
        expect(await readdir(join(localDir, '.axisor', 'tmp'))).toEqual([]);
      }
      // The marker / temp file is gone: a second cleanup finds nothing.
      const again = await repo.cleanupAbandoned({ olderThanMs: 3_600_000 });
      expect([...again.aborted, ...again.leftOver]).toEqual([]);
    } finally {
      await repo.close();
    }
  });

  test('encrypted objects: no plaintext stored; read back with the key in parallel parts; no key, a wrong key and tampering refused', async () => {
    const KEY = makeKey(Buffer.alloc(32, 1), 'key-a');
    const OTHER = makeKey(Buffer.alloc(32, 2), 'key-b');
    const plain = Buffer.from('1\talice@example.com\t$argon2id$v=19$m=65536\n'.repeat(160_000)); // ~6.7 MB: multipart on S3
    const repo = open();
    try {
      const stored = await putStream(repo, 'enc/users.copy', Readable.from([plain]), KEY);
      const raw = await repo.getBuffer('enc/users.copy');
      expect(stored.bytes).toBe(raw.length);
      expect(stored.sha256).toBe(createHash('sha256').update(raw).digest('hex'));
      expect(raw.includes(Buffer.from('alice@example.com'))).toBe(false);
      const read = async (key: typeof KEY | null, opts = {}) => {
        const parts: Buffer[] = [];
        for await (const c of await openObject(repo, 'enc/users.copy', key, opts)) parts.push(c as Buffer);
        return Buffer.concat(parts);
      };
      expect((await read(KEY)).equals(plain)).toBe(true);
      expect((await read(KEY, { size: raw.length, partSize: 1 << 20, concurrency: 3 })).equals(plain)).toBe(true);
      await expect(read(null)).rejects.toMatchObject({ code: 'config.encryption_key_missing', exitCode: 78, message: expect.stringContaining(KEY.fingerprint) });
      await expect(read(OTHER)).rejects.toMatchObject({ code: 'config.encryption_key_mismatch', exitCode: 78, hint: expect.stringContaining(KEY.fingerprint) });
      const tampered = Buffer.from(raw);
      tampered[tampered.length - 100]! ^= 0x20;
      await repo.put('enc/users.copy', tampered);
      await expect(read(KEY)).rejects.toMatchObject({ exitCode: 65 });
      // A plaintext object passes through without a key.
      await putStream(repo, 'enc/plain.copy', Readable.from([Buffer.from('x\n')]), null);
      const parts: Buffer[] = [];
      for await (const c of await openObject(repo, 'enc/plain.copy', null)) parts.push(c as Buffer);
      expect(Buffer.concat(parts).toString()).toBe('x\n');
      await repo.deletePrefix('enc/');
    } finally {
      await repo.close();
    }
  });

  test('a source that fails mid-stream: put rejects with its error and leaves nothing behind', async () => {
    const repo = open();
    try {
      const src = new Readable({ read() {} });
      const mib = Buffer.alloc(1 << 20, 7);
      let sent = 0;
      const feed = setInterval(() => {
        if (sent++ < 12) src.push(mib);
        else (clearInterval(feed), src.destroy(new Error('compressor died')));
      }, 5);
      await expect(repo.put('failed/data.bin', src)).rejects.toThrow('compressor died');
      expect(await repo.stat('failed/data.bin')).toBeNull();
      if (kind === 'local') expect(await readdir(join(localDir, '.axisor', 'tmp'))).toEqual([]);
      else expect((await (repo as S3Repository).client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'suite/.axisor/uploads/' }))).KeyCount).toBe(0);
    } finally {
      await repo.close();
    }
  });

  test('an aborted put is ABORTED (130) and leaves nothing', async () => {
    const repo = open();
    try {
      const ac = new AbortController();
      const src = new Readable({ read() {} });
      let sent = 0;
      const feed = setInterval(() => {
        src.push(Buffer.alloc(1 << 20, 1));
        if (++sent === 12) ac.abort();
        if (sent > 40) (clearInterval(feed), src.push(null));
      }, 5);
      await expect(repo.put('aborted/data.bin', src, { signal: ac.signal })).rejects.toMatchObject({ code: 'aborted', exitCode: 130 });
      clearInterval(feed);
      expect(await repo.stat('aborted/data.bin')).toBeNull();
    } finally {
      await repo.close();
    }
  });

  test('publish protocol: unpublished prefixes are not backups; the sweep removes dead writers\' prefixes only', async () => {
    const names = { isId: (s: string) => /^b\d$/.test(s), manifest: 'manifest.json' };
    const repo = open();
    const dead = spawnSync('true').pid;
    try {
      // b1 published; b2 in progress (our live pid); b3 written by a dead pid; b4 has no owner record yet.
      await claimBackup(repo, 'b1');
      await repo.put('b1/data.copy', 'x');
      await repo.put('b1/manifest.json', '{}');
      await claimBackup(repo, 'b2', 'running backup');
      await repo.put('b2/data.copy', 'x');
      await repo.put('b3/owner.json', JSON.stringify({ host: hostname(), pid: dead, label: null, startedAt: new Date().toISOString() }));
      await repo.put('b3/data.copy', 'x');
      await repo.put('b4/data.copy', 'x');
      await repo.put('not-a-backup/file', 'x');
      expect((await listBackupPrefixes(repo, names)).map((p) => [p.id, p.published])).toEqual([['b1', true], ['b2', false], ['b3', false], ['b4', false]]);
      expect(await sweepAbandoned(repo, names)).toEqual(['b3']);
      // Past the grace period, a prefix that never got an owner record goes too; a live owner's never does.
      expect(await sweepAbandoned(repo, { ...names, graceMs: 0, now: Date.now() + 1000 })).toEqual(['b4']);
      expect((await listBackupPrefixes(repo, names)).map((p) => p.id)).toEqual(['b1', 'b2']);
      expect(await unpublishAndDelete(repo, 'b1', ['manifest.json'])).toBe(2);
      expect(await unpublishAndDelete(repo, 'b2', ['manifest.json'])).toBe(2);
      expect(await repo.list('b')).toEqual([]);
      await repo.delete('not-a-backup/file');
    } finally {
      await repo.close();
    }
  });

  test('lock contention: of two writers one wins; the other gets LOCK_HELD naming the holder; release frees it', async () => {
    const a = open();
    const b = open();
    try {
      for (let round = 0; round < 3; round++) {
        const results = await Promise.allSettled([a.acquireLock('db-axisor', { waitMs: 0, label: 'backup A' }), b.acquireLock('db-axisor', { waitMs: 0, label: 'backup B' })]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]!.reason).toMatchObject({ exitCode: 75, message: expect.stringMatching(/held by backup [AB], pid \d+/) });
        const handle = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<Repository['acquireLock']>>>).value;
        expect(handle.held()).toBe(true);
        await handle.release();
        await expect(handle.release()).rejects.toThrow(/twice/);
      }
      // A waiter gets the lock once the holder releases it.
      const h1 = await a.acquireLock('db-axisor', { waitMs: 0 });
      const waiting = b.acquireLock('db-axisor', { waitMs: 10_000 });
      await new Promise((r) => setTimeout(r, 700));
      await h1.release();
      await (await waiting).release();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a lock left by a dead process is taken over', async () => {
    const dead = spawnSync('true');
    const deadPid = dead.pid;
    const holder = JSON.stringify({ host: hostname(), pid: deadPid, label: 'killed backup', startedAt: new Date().toISOString(), token: 'x' });
    const repo = open();
    try {
      if (kind === 'local') {
        await mkdir(join(localDir, '.axisor', 'locks'), { recursive: true });
        await writeFile(join(localDir, '.axisor', 'locks', 'db-dead.lock'), holder);
      } else {
        await (repo as S3Repository).client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `suite/.axisor/locks/db-dead/${String(Date.now()).padStart(15, '0')}-x.json`, Body: holder }));
      }
      const h = await repo.acquireLock('db-dead', { waitMs: 0 });
      await h.release();
      // A live holder (this process) is not taken over, however short the staleness window.
      const live = await repo.acquireLock('db-dead', { waitMs: 0 });
      await expect(open().acquireLock('db-dead', { waitMs: 0, staleAfterMs: 1 })).rejects.toMatchObject({ exitCode: 75 });
      await live.release();
    } finally {
      await repo.close();
    }
  });
});

describe('S3 errors name what is wrong', () => {
  test('a missing bucket is NOT_FOUND (66)', async () => {
    const repo = s3Repo({ bucket: 'axisor-no-such-bucket' });
    await expect(repo.probe()).rejects.toMatchObject({ code: 'not_found.s3_bucket', exitCode: 66, message: expect.stringContaining('axisor-no-such-bucket') });
    await expect(repo.put('x', 'y')).rejects.toMatchObject({ code: 'not_found.s3_bucket', exitCode: 66 });
    await repo.close();
  });

  // s3rver checks the access key id but not SigV4 signatures, so an unknown key id stands for bad credentials here.
  test('bad credentials are a CONNECTION error (68) naming the credentials', async () => {
    const repo = s3Repo({ accessKeyId: 'AKIANOSUCHKEY' });
    await expect(repo.probe()).rejects.toMatchObject({ code: 'connection.s3_credentials', exitCode: 68 });
    await expect(repo.list('')).rejects.toMatchObject({ code: 'connection.s3_credentials', exitCode: 68, hint: expect.stringContaining('AWS_ACCESS_KEY_ID') });
    await repo.close();
  });

  test('an unreachable endpoint is a CONNECTION error (68) naming the endpoint, after the retries', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const repo = s3Repo({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 2 });
    await expect(repo.probe()).rejects.toMatchObject({ code: 'connection.s3_unreachable', exitCode: 68, message: expect.stringContaining(`127.0.0.1:${port}`) });
    await repo.close();
  });

  test('throttling (503 SlowDown) is retried with backoff; when it persists it is s3_unavailable (68)', async () => {
    // A real HTTP hop in front of s3rver that answers the first N requests with S3's throttling error.
    let failuresLeft = 0;
    let requests = 0;
    const upstream = new URL(s3.endpoint);
    const proxy = http.createServer((req, res) => {
      requests++;
      if (failuresLeft > 0) {
        failuresLeft--;
        req.resume();
        req.on('end', () => {
          res.writeHead(503, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        });
        return;
      }
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      req.pipe(out);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const endpoint = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const repo = s3Repo({ endpoint, maxAttempts: 4 });
      failuresLeft = 2;
      requests = 0;
      await repo.put('throttled/obj', 'survived');
      expect(requests).toBe(3);
      expect((await repo.getBuffer('throttled/obj')).toString()).toBe('survived');
      failuresLeft = 100;
      requests = 0;
      await expect(repo.getBuffer('throttled/obj')).rejects.toMatchObject({ code: 'connection.s3_unavailable', exitCode: 68, message: expect.stringContaining('SlowDown') });
      expect(requests).toBe(4);
      failuresLeft = 0;
      await repo.delete('throttled/obj');
      await repo.close();
    } finally {
      proxy.close();
    }
  });

  test('s3rver ignores If-None-Match on PUT: why the lock does not rely on conditional writes', async () => {
    const repo = s3Repo();
    const put = () => repo.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'suite/ifnonematch-probe', Body: 'x', IfNoneMatch: '*' }));
    await put();
    await expect(put()).resolves.toBeDefined();
    await repo.delete('ifnonematch-probe');
    await repo.close();
  });
});
