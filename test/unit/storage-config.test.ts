import { describe, expect, test } from '@jest/globals';
import { parseBackupLocation, parseS3Url, resolveS3Settings } from '../../src/storage/index.ts';
import { classifyS3Error } from '../../src/storage/s3-errors.ts';
import { checkKey, writerGone } from '../../src/storage/keys.ts';
import { hostname } from 'node:os';

describe('backup locations', () => {
  test('s3:// URLs parse into bucket and a normalised prefix', () => {
    expect(parseS3Url('s3://my-bucket/prod/axisor')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: 'prod/axisor/', url: 's3://my-bucket/prod/axisor/' });
    expect(parseS3Url('s3://my-bucket')).toMatchObject({ prefix: '', url: 's3://my-bucket/' });
    expect(parseS3Url('S3://my.bucket//a///b/')).toMatchObject({ bucket: 'my.bucket', prefix: 'a/b/' });
  });
  test('bad bucket names, dot segments and unknown schemes are CONFIG errors (78)', () => {
    for (const bad of ['s3://', 's3://A_Bucket/x', 's3://ab/x', 's3://bucket/../x', 's3://bucket/x?versionId=1', 's3://-bucket/x']) {
      expect(() => parseS3Url(bad)).toThrow(expect.objectContaining({ exitCode: 78 }));
    }
    expect(() => parseBackupLocation('gs://bucket/x', '/tmp')).toThrow(expect.objectContaining({ code: 'config.backup_dir_scheme' }));
  });
  test('local paths are made absolute; s3 URLs are not touched', () => {
    expect(parseBackupLocation('backups', '/srv')).toEqual({ kind: 'local', dir: '/srv/backups' });
    expect(parseBackupLocation('/var/backups', '/srv')).toEqual({ kind: 'local', dir: '/var/backups' });
    expect(parseBackupLocation('s3://bkt/p', '/srv')).toMatchObject({ kind: 's3', bucket: 'bkt' });
  });
});

describe('S3 settings', () => {
  test('defaults', () => {
    expect(resolveS3Settings({})).toMatchObject({ region: 'us-east-1', endpoint: undefined, forcePathStyle: false, partSize: 8 << 20, queueSize: 4, maxAttempts: 5 });
  });
  test('environment over config file over defaults; AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL', () => {
    const file = { region: 'eu-west-1', endpoint: 'http://minio:9000', forcePathStyle: true, partSizeMiB: 16, queueSize: 2 };
    expect(resolveS3Settings({}, file)).toMatchObject({ region: 'eu-west-1', endpoint: 'http://minio:9000', forcePathStyle: true, partSize: 16 << 20, queueSize: 2 });
    const env = { AWS_REGION: 'eu-central-1', AWS_ENDPOINT_URL: 'http://generic:1', AWS_ENDPOINT_URL_S3: 'http://s3only:2', AXISOR_S3_FORCE_PATH_STYLE: '0', AXISOR_S3_PART_SIZE_MIB: '5', AWS_MAX_ATTEMPTS: '9' };
    const r = resolveS3Settings(env, file);
    expect(r).toMatchObject({ region: 'eu-central-1', endpoint: 'http://s3only:2', forcePathStyle: false, partSize: 5 << 20, queueSize: 2, maxAttempts: 9 });
    expect(r.sources).toMatchObject({ region: 'env', endpoint: 'env', forcePathStyle: 'env', queueSize: 'file', maxAttempts: 'env' });
    expect(resolveS3Settings({ AWS_ENDPOINT_URL: 'http://generic:1', AWS_DEFAULT_REGION: 'ap-south-1' })).toMatchObject({ endpoint: 'http://generic:1', region: 'ap-south-1' });
    expect(resolveS3Settings({ AXISOR_S3_FORCE_PATH_STYLE: '1' }).forcePathStyle).toBe(true);
  });
  test('bad values name the variable', () => {
    expect(() => resolveS3Settings({ AXISOR_S3_FORCE_PATH_STYLE: 'maybe' })).toThrow(/AXISOR_S3_FORCE_PATH_STYLE/);
    expect(() => resolveS3Settings({ AXISOR_S3_PART_SIZE_MIB: '4' })).toThrow(/AXISOR_S3_PART_SIZE_MIB/);
    expect(() => resolveS3Settings({}, { queueSize: 0 })).toThrow(/s3.queueSize/);
    expect(() => resolveS3Settings({ AWS_ENDPOINT_URL_S3: 'minio:9000' })).toThrow(expect.objectContaining({ code: 'config.s3_endpoint' }));
  });
});

describe('S3 error classification', () => {
  const ctx = { op: 'PutObject', bucket: 'bkt', key: 'p/k', endpoint: 'http://e:1', attempts: 5 };
  const sdk = (name: string, status?: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  test.each([
    ['NoSuchBucket', 404, 'not_found.s3_bucket', 66],
    ['InvalidAccessKeyId', 403, 'connection.s3_credentials', 68],
    ['SignatureDoesNotMatch', 403, 'connection.s3_credentials', 68],
    ['ExpiredToken', 400, 'connection.s3_credentials', 68],
    ['CredentialsProviderError', undefined, 'connection.s3_credentials', 68],
    ['AccessDenied', 403, 'privilege.s3_access_denied', 67],
    ['PermanentRedirect', 301, 'config.s3_region', 78],
    ['NoSuchKey', 404, 'not_found.object', 66],
    ['SlowDown', 503, 'connection.s3_unavailable', 68],
    ['InternalError', 500, 'connection.s3_unavailable', 68],
    ['WeirdThing', 400, 'connection.s3_request', 68],
  ])('%s (HTTP %s) -> %s', (name, status, code, exitCode) => {
    expect(classifyS3Error(sdk(name, status), ctx)).toMatchObject({ code, exitCode });
  });
  test('network failures, also when wrapped, are s3_unreachable naming the endpoint', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(classifyS3Error(refused, ctx)).toMatchObject({ code: 'connection.s3_unreachable', message: expect.stringContaining('http://e:1') });
    expect(classifyS3Error(new Error('AWS SDK error wrapper for Error: getaddrinfo ENOTFOUND nohost'), ctx)).toMatchObject({ code: 'connection.s3_unreachable' });
    expect(classifyS3Error(new Error('x', { cause: Object.assign(new Error('t'), { name: 'TimeoutError' }) }), ctx)).toMatchObject({ code: 'connection.s3_unreachable' });
  });
  test('a denied action names the permission to grant', () => {
    expect(classifyS3Error(sdk('AccessDenied', 403), { ...ctx, op: 'ListObjectsV2', key: undefined }).hint).toContain('s3:ListBucket on arn:aws:s3:::bkt ');
    expect(classifyS3Error(sdk('AccessDenied', 403), { ...ctx, op: 'AbortMultipartUpload' }).hint).toContain('s3:AbortMultipartUpload on arn:aws:s3:::bkt/*');
    expect(classifyS3Error(sdk('AccessDenied', 403), ctx).hint).toContain('s3:PutObject on arn:aws:s3:::bkt/*');
  });
});

describe('keys and liveness', () => {
  test('keys cannot escape the root or enter the internal area', () => {
    expect(checkKey('20261130T000000Z-full-ab12/manifest.json')).toBeTruthy();
    for (const bad of ['', '/a', 'a/', 'a//b', 'a/../b', './a', '.axisor/locks/x', 'a\\b']) expect(() => checkKey(bad)).toThrow();
  });
  test('a writer on this host is judged by its pid, one elsewhere by age', () => {
    const now = Date.now();
    expect(writerGone({ host: hostname(), pid: process.pid }, new Date(0), 1, now)).toBe(false);
    expect(writerGone({ host: 'elsewhere', pid: process.pid }, new Date(now - 5000), 1000, now)).toBe(true);
    expect(writerGone({ host: 'elsewhere', pid: 1 }, new Date(now - 500), 1000, now)).toBe(false);
    expect(writerGone(null, new Date(now - 5000), 1000, now)).toBe(true);
  });
});
