import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ThrowawayCluster } from '../../src/pgtools/index.ts';
import { sha256Hex } from '../../src/archive/manifest.ts';
import { urlWithDatabase } from '../helpers/db.ts';
import { cli, contentFingerprint, databaseNames, filesUnder, q, startShopCluster } from '../helpers/backup.ts';
import type { BackupResult, RestoreResult, VerifyResult } from '../helpers/results.ts';

// Encrypted chains (full + incrementals) need wal_level = logical: a throwaway cluster, as the incremental suites.
let cluster: ThrowawayCluster;
let work: string;
let src: string;
const dbUrl = (name: string) => urlWithDatabase(cluster.url, name);
const SECRET_A = 'seeded.secret.alpha@axisor-test.example';
const SECRET_B = 'seeded.secret.beta@axisor-test.example';

function keyFile(name: string): string {
  const p = join(work, name);
  writeFileSync(p, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return p;
}

const databases = () => databaseNames(cluster.url);

beforeAll(async () => {
  ({ cluster, src } = await startShopCluster());
  await q(src, `INSERT INTO "User"(id, email) VALUES ('secret-a', $1)`, [SECRET_A]);
  work = mkdtempSync(join(tmpdir(), 'axisor-bk-enc-'));
});

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('an encrypted full + incrementals chain restores exactly; no stored file holds a seeded e-mail; wrong, missing and tampered keys are refused with nothing created', async () => {
  const dir = join(work, 'enc');
  const key = keyFile('backup.key');
  const other = keyFile('other.key');
  const withKey = { env: { AXISOR_BACKUP_KEY_FILE: key } };

  // --compress none keeps the e-mails literal in plaintext files, so the "no plaintext" check below can fail
  // (the control backup shows it does); the middle incremental is zstd (decryption into the decompressor's stdin).
  const full = await cli<BackupResult>(['backup', '--type', 'full', '--compress', 'none'], src, dir, withKey);
  expect(full.exitCode).toBe(0);
  const fingerprint = JSON.parse(readFileSync(join(dir, full.json.result.id, 'manifest.json'), 'utf8')).encryption.keyFingerprint as string;
  expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
  await q(src, `INSERT INTO "User"(id, email) VALUES ('secret-b', '${SECRET_B}'); UPDATE "TradeLog" SET note = 'inc1' WHERE id < 50; DELETE FROM "TradeLog" WHERE id BETWEEN 100 AND 120`);
  const inc1 = await cli<BackupResult>(['backup', '--type', 'incremental', '--compress', 'zstd'], src, dir, withKey);
  expect(inc1.exitCode).toBe(0);
  expect(inc1.json.result).toMatchObject({ type: 'incremental', parent: full.json.result.id });
  await q(src, `UPDATE "User" SET plan = 'PRO' WHERE id = 'secret-b'; INSERT INTO "TradeLog"(user_id, size, note) SELECT 'secret-a', g, 'inc2' FROM generate_series(1, 30) g`);
  const inc2 = await cli<BackupResult>(['backup', '--type', 'incremental', '--compress', 'none'], src, dir, withKey);
  expect(inc2.exitCode).toBe(0);
  const want = await contentFingerprint(src);

  // Without the key, an incremental of an encrypted chain is refused (a cron line that lost its key), not promoted to a plaintext full.
  const noKeyInc = await cli(['backup', '--type', 'incremental'], src, dir);
  expect(noKeyInc.exitCode).toBe(78);
  expect(noKeyInc.json.error.message).toContain(fingerprint);

  // No stored object holds a seeded e-mail in plaintext: data files, change files, schema archive, manifests.
  const stored = filesUnder(dir);
  expect(stored.some((f) => f.endsWith('manifest.hmac'))).toBe(true);
  for (const f of stored) {
    const bytes = readFileSync(f);
    expect([f, bytes.includes(SECRET_A)]).toEqual([f, false]);
    expect([f, bytes.includes(SECRET_B)]).toEqual([f, false]);
    expect([f, statSync(f).mode & 0o077]).toEqual([f, 0]);
  }
  // Control: the same backup without a key holds the e-mail literally, so the check above can fail.
  const plainDir = join(work, 'plain');
  const plain = await cli(['backup', '--type', 'full', '--compress', 'none', '--no-chain'], src, plainDir);
  expect(plain.exitCode).toBe(0);
  expect(filesUnder(plainDir).some((f) => readFileSync(f).includes(SECRET_A))).toBe(true);

  // No key, or another key: refused before anything is created, naming the fingerprint needed.
  const before = await databases();
  const noKey = await cli(['restore', inc2.json.result.id, '--target-db', 'enc_nokey'], src, dir);
  expect(noKey.exitCode).toBe(78);
  expect(noKey.json.error.code).toBe('config.encryption_key_missing');
  expect(noKey.json.error.hint).toContain(fingerprint);
  const wrong = await cli(['restore', inc2.json.result.id, '--target-db', 'enc_wrong', '--encryption-key-file', other], src, dir);
  expect(wrong.exitCode).toBe(78);
  expect(wrong.json.error.code).toBe('config.encryption_key_mismatch');
  expect(wrong.json.error.message).toContain(fingerprint);
  expect(await databases()).toEqual(before);

  // The right key restores the whole chain exactly (ordered content hash per table).
  const restored = await cli<RestoreResult>(['restore', inc2.json.result.id, '--target-db', 'enc_ok'], src, dir, withKey);
  expect(restored.exitCode).toBe(0);
  expect(restored.json.result.chain).toEqual([full.json.result.id, inc1.json.result.id, inc2.json.result.id]);
  expect(await contentFingerprint(dbUrl('enc_ok'))).toEqual(want);
  const [{ n }] = await q(dbUrl('enc_ok'), `SELECT count(*)::int AS n FROM "User" WHERE email IN ($1, $2)`, [SECRET_A, SECRET_B]);
  expect(n).toBe(2);

  // The drill of verify decrypts too; checksums alone need no key.
  const verified = await cli<VerifyResult>(['backup', 'verify', inc2.json.result.id], src, dir, withKey);
  expect([verified.exitCode, verified.json.result.ok]).toEqual([0, true]);
  const sumsOnly = await cli(['backup', 'verify', inc2.json.result.id, '--no-drill'], src, dir);
  expect(sumsOnly.exitCode).toBe(0);
  const drillNoKey = await cli(['backup', 'verify', inc2.json.result.id], src, dir);
  expect(drillNoKey.exitCode).toBe(78);

  // A manifest changed together with its sha256 (an attacker without the key) fails its MAC: 65, nothing created.
  const mDir = join(dir, inc1.json.result.id);
  const text = readFileSync(join(mDir, 'manifest.json'), 'utf8').replace(/"rows": (\d+)/, (_m, d: string) => `"rows": ${Number(d) + 1}`);
  writeFileSync(join(mDir, 'manifest.json'), text);
  writeFileSync(join(mDir, 'manifest.sha256'), `${sha256Hex(text)}  manifest.json\n`);
  const tampered = await cli(['restore', inc2.json.result.id, '--target-db', 'enc_tampered'], src, dir, withKey);
  expect(tampered.exitCode).toBe(65);
  expect(tampered.json.error.code).toBe('integrity.manifest_mac');
  expect(await databases()).toEqual([...before, 'enc_ok'].sort());
});
