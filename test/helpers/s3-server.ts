import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver: a real S3-protocol HTTP server (SigV4 authentication, multipart upload, ranged GET, DeleteObjects) that
// stores objects in a directory. It does not implement ListMultipartUploads, AbortMultipartUpload or conditional
// PUT (If-None-Match); src/storage/s3.ts works without them (see docs/storage.md).
import S3rver from 's3rver';

/** s3rver's built-in account. */
export const S3_TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface TestS3Server {
  endpoint: string;
  port: number;
  directory: string;
  /** Environment for a child process (the standard AWS variables) pointing at this server. */
  env(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

/** Same server in a child process (its own event loop, and truncated listings work): for backup tests and benchmarks. */
export async function startS3ServerProcess(buckets: string[]): Promise<TestS3Server> {
  // --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has
  // in its legacy provider; without it every truncated listing (MaxKeys, > 1000 keys) is an HTTP 500.
  const proc = spawn(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', new URL('./s3-server-main.ts', import.meta.url).pathname, ...buckets], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
  const { port, directory } = JSON.parse(line.toString()) as { port: number; directory: string };
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint, port, directory,
    env: (extra = {}) => ({ AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey, AXISOR_S3_FORCE_PATH_STYLE: '1', ...extra }),
    stop: async () => {
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}

/** Starts s3rver on 127.0.0.1 on a free port, storing into a fresh temporary directory; stop() removes both. */
export async function startS3Server(buckets: string[]): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'axisor-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: !process.env.S3RVER_LOUD,
    directory,
    // Path-style only: bucket.127.0.0.1 is not a host name.
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const addr = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${addr.port}`;
  return {
    endpoint,
    port: addr.port,
    directory,
    env: (extra = {}) => ({
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
      AXISOR_S3_FORCE_PATH_STYLE: '1',
      ...extra,
    }),
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
