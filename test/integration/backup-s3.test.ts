import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ThrowawayCluster } from '../../src/pgtools/index.ts';
import { urlWithDatabase } from '../helpers/db.ts';
import { cli, contentFingerprint, databaseNames, filesUnder, q, startShopCluster } from '../helpers/backup.ts';
import { spawnCli } from '../helpers/cli.ts';
import { S3_TEST_CREDENTIALS, startS3ServerProcess, type TestS3Server } from '../helpers/s3-server.ts';
import type { BackupResult, HealthCheckResult, ListResult, RestoreResult, VerifyResult } from '../helpers/results.ts';

// A real S3-protocol server (s3rver) on 127.0.0.1 and a wal_level = logical throwaway cluster.
const BUCKET = 'axisor-backups';
let s3: TestS3Server;
let cluster: ThrowawayCluster;
let work: string;
let src: string;
let key: string;
const dbUrl = (name: string) => urlWithDatabase(cluster.url, name);
const SECRET = 'seeded.s3.secret@axisor-test.example';

async function keysUnder(prefix: string): Promise<string[]> {
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3_TEST_CREDENTIALS });
  try {
    const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (r.Contents ?? []).map((c) => c.Key!).sort();
  } finally {
    client.destroy();
  }
}

const databases = () => databaseNames(cluster.url);

beforeAll(async () => {
  s3 = await startS3ServerProcess([BUCKET]);
  ({ cluster, src } = await startShopCluster());
  await q(src, `INSERT INTO "User"(id, email) VALUES ('secret', '${SECRET}')`);
  work = mkdtempSync(join(tmpdir(), 'axisor-bk-s3-'));
  key = join(work, 'backup.key');
  writeFileSync(key, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await cluster?.stop();
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('an encrypted full + incrementals chain in S3 restores exactly; list, verify, status; no plaintext in any object; wrong and no key refused', async () => {
  const url = `s3://${BUCKET}/prod`;
  const env = { env: s3.env({ AXISOR_BACKUP_KEY_FILE: key }) };
  const full = await cli<BackupResult>(['backup', '--type', 'full', '--compress', 'none'], src, url, env);
  expect(full.exitCode).toBe(0);
  expect(full.json.result.dir).toBe(`${url}/${full.json.result.id}`);
  await q(src, `UPDATE "TradeLog" SET note = 'inc1' WHERE id < 40; DELETE FROM "TradeLog" WHERE id BETWEEN 300 AND 330; INSERT INTO "User"(id, email) VALUES ('secret2', 'x${SECRET}')`);
  const inc1 = await cli<BackupResult>(['backup', '--type', 'incremental'], src, url, env);
  expect([inc1.exitCode, inc1.json.error]).toEqual([0, undefined]);
  await q(src, `INSERT INTO "TradeLog"(user_id, size, note) SELECT 'secret', g, 'inc2' FROM generate_series(1, 25) g; TRUNCATE audit`);
  const inc2 = await cli<BackupResult>(['backup', '--type', 'incremental', '--compress', 'none'], src, url, env);
  expect(inc2.exitCode).toBe(0);
  expect(inc2.json.result.parent).toBe(inc1.json.result.id);
  const want = await contentFingerprint(src);

  const list = await cli<ListResult>(['backup', 'list'], src, url, env);
  expect(list.exitCode).toBe(0);
  expect(JSON.stringify(list.json.result)).toContain(inc2.json.result.id);

  // Stored objects (s3rver keeps them as files): none holds the e-mail. Control: a plaintext backup does.
  for (const f of filesUnder(join(s3.directory, BUCKET))) expect([f, readFileSync(f).includes(SECRET)]).toEqual([f, false]);
  const plain = await cli(['backup', '--type', 'full', '--compress', 'none', '--no-chain'], src, `s3://${BUCKET}/plain`, { env: s3.env() });
  expect(plain.exitCode).toBe(0);
  expect(filesUnder(join(s3.directory, BUCKET)).some((f) => readFileSync(f).includes(SECRET))).toBe(true);

  const before = await databases();
  const noKey = await cli(['restore', inc2.json.result.id, '--target-db', 's3_nokey'], src, url, { env: s3.env() });
  expect([noKey.exitCode, noKey.json.error.code]).toEqual([78, 'config.encryption_key_missing']);
  const otherKey = join(work, 'other.key');
  writeFileSync(otherKey, randomBytes(32).toString('base64'), { mode: 0o600 });
  const wrong = await cli(['restore', inc2.json.result.id, '--target-db', 's3_wrong', '--encryption-key-file', otherKey], src, url, { env: s3.env() });
  expect([wrong.exitCode, wrong.json.error.code]).toEqual([78, 'config.encryption_key_mismatch']);
  expect(await databases()).toEqual(before);

  const restored = await cli<RestoreResult>(['restore', '--latest', '--target-db', 's3_ok'], src, url, env);
  expect(restored.exitCode).toBe(0);
  expect(restored.json.result.chain).toEqual([full.json.result.id, inc1.json.result.id, inc2.json.result.id]);
  expect(await contentFingerprint(dbUrl('s3_ok'))).toEqual(want);

  const verified = await cli<VerifyResult>(['backup', 'verify', '--latest'], src, url, env);
  expect([verified.exitCode, verified.json.result.ok]).toEqual([0, true]);
  const check = await cli<HealthCheckResult>(['backup', 'status', '--check'], src, url, env);
  expect([check.exitCode, check.json.result.label]).toEqual([0, 'OK']);
  expect(check.json.result.checks).toContainEqual(expect.objectContaining({ name: 'verify', status: 0 }));
});

test('a backup killed -9 midway through an upload is never listed, and the next backup removes what it left', async () => {
  const url = `s3://${BUCKET}/killed`;
  // About 60 MB of poorly compressible rows, uploaded in 5 MiB parts: the upload is multipart and takes a while.
  await q(src, `CREATE TABLE bulk (id int PRIMARY KEY, body text NOT NULL);
    INSERT INTO bulk SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text) FROM generate_series(1, 400000) g`);
  const env = s3.env({ AXISOR_S3_PART_SIZE_MIB: '5', AXISOR_S3_QUEUE_SIZE: '1' });
  const child = spawnCli(['backup', '--type', 'full', '--compress', 'none', '--no-chain', '-j', '1', '--database-url', src, '--backup-dir', url, '--json'], { env });
  // Kill once a multipart upload is under way (its marker is stored before the first part).
  const deadline = Date.now() + 60_000;
  let marker: string[] = [];
  while (Date.now() < deadline && child.exitCode === null) {
    marker = await keysUnder('killed/.axisor/uploads/');
    if (marker.length > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(marker.length).toBeGreaterThan(0);
  child.kill('SIGKILL');
  await child;
  const left = (await keysUnder('killed/')).filter((k) => !k.startsWith('killed/.axisor/'));
  const killedId = left[0]!.split('/')[1]!;
  expect(left).toContain(`killed/${killedId}/owner.json`);
  expect(left).not.toContain(`killed/${killedId}/manifest.json`);

  const list = await cli<ListResult>(['backup', 'list'], src, url, { env });
  expect([list.exitCode, list.json.error]).toEqual([0, undefined]);
  expect(JSON.stringify(list.json.result)).not.toContain(killedId);

  const next = await cli<BackupResult>(['backup', '--type', 'schema-only'], src, url, { env });
  expect(next.exitCode).toBe(0);
  expect(next.json.result.removedTempDirs).toContain(killedId);
  expect((await keysUnder(`killed/${killedId}/`))).toEqual([]);
  // s3rver cannot abort multipart uploads; the run reports it (a lifecycle rule is the backstop) and drops nothing it should keep.
  expect((await cli<ListResult>(['backup', 'list'], src, url, { env })).json.result.backups.map((b) => b.id)).toEqual([next.json.result.id]);
  await q(src, 'DROP TABLE bulk');
});
