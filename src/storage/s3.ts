import {
  AbortMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand,
  ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { pipeline, Readable } from 'node:stream';
import { AbortedError } from '../errors.ts';
import { checkKey, countingBody, checkPrefix, selfHolder, uniqueToken, writerGone } from './keys.ts';
import { acquireListLock, type LockStore } from './s3-lock.ts';
import type { S3Location } from './location.ts';
import { classifyS3Error, errorCode, httpStatus } from './s3-errors.ts';
import type { S3Settings } from './s3-settings.ts';
import { INTERNAL_PREFIX, type ByteRange, type CleanupOptions, type CleanupReport, type LockHandle, type LockHolder, type LockOptions, type ObjectInfo, type PutOptions, type PutResult, type Repository } from './types.ts';

export interface S3Deps {
  /** Explicit credentials (tests); otherwise the SDK's default chain. */
  credentials?: S3ClientConfig['credentials'];
}

interface UploadMarker {
  key: string;
  uploadId: string;
  owner: LockHolder;
}

export class S3Repository implements Repository {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly root: string;
  private readonly endpoint: string;
  /** Full key -> what to do once S3 has given the multipart upload its id (write the marker). */
  private readonly onUploadCreated = new Map<string, (uploadId: string) => Promise<void>>();

  constructor(loc: S3Location, private readonly settings: S3Settings, deps: S3Deps = {}) {
    // The SDK prints a notice about its own future releases dropping Node 20 on every run's stderr. Which Node
    // versions we support is package.json's engines field; the notice would only be noise in a cron mail.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.location = loc.url;
    this.bucket = loc.bucket;
    this.root = loc.prefix;
    this.endpoint = settings.endpoint ?? `https://s3.${settings.region}.amazonaws.com`;
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      // Standard mode: exponential backoff with jitter on throttling (SlowDown, 503), 5xx and network errors.
      retryMode: 'standard',
      maxAttempts: settings.maxAttempts,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
      ...(deps.credentials ? { credentials: deps.credentials } : {}),
    });
    // lib-storage creates the multipart upload itself; catch its id on the way back so a marker naming it is
    // stored before any part is sent. A killed writer's parts are then found again on any S3 server, including
    // ones that cannot list multipart uploads.
    this.client.middlewareStack.add((next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'CreateMultipartUploadCommand') {
        const input = args.input as { Key?: string };
        const uploadId = (out.output as { UploadId?: string }).UploadId;
        const hook = input.Key ? this.onUploadCreated.get(input.Key) : undefined;
        if (hook && uploadId) await hook(uploadId);
      }
      return out;
    }, { step: 'initialize', name: 'axisorUploadMarker' });
  }

  private full(key: string): string {
    return this.root + key;
  }

  private async call<T>(op: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyS3Error(err, { op, bucket: this.bucket, key: key === undefined ? undefined : this.full(key), endpoint: this.endpoint, attempts: this.settings.maxAttempts });
    }
  }

  /** A one-key listing rather than HeadBucket: HEAD responses carry no error code, so a bad key and a denied one look alike. */
  async probe(): Promise<void> {
    await this.call('ListObjectsV2', '', () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.root, MaxKeys: 1 })));
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<PutResult> {
    checkKey(key);
    return this.putRaw(key, body, opts);
  }

  private async putRaw(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<PutResult> {
    const fullKey = this.full(key);
    const { src, counter, bytes } = countingBody(body, opts.onBytes);
    // pipeline: a source error fails the upload, and a failed upload (counter destroyed below) stops the source.
    pipeline(src, counter, () => {});
    const markerKey = `${INTERNAL_PREFIX}uploads/${uniqueToken()}.json`;
    let markerWritten = false;
    this.onUploadCreated.set(fullKey, async (uploadId) => {
      const marker: UploadMarker = { key: fullKey, uploadId, owner: selfHolder() };
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(markerKey), Body: JSON.stringify(marker), ContentType: 'application/json' }));
      markerWritten = true;
    });
    // Memory is bounded by queueSize parts in flight plus one being filled: (queueSize + 1) x partSize.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: fullKey, Body: counter },
      partSize: this.settings.partSize,
      queueSize: this.settings.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => {});
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.call('PutObject', key, async () => {
        try {
          return await upload.done();
        } catch (err) {
          // A source stream failure or our own abort surfaces here too: report it as what it is, not as an S3 error.
          if (opts.signal?.aborted) throw new AbortedError(`upload of ${key} aborted`, { cause: err });
          if (src.errored) throw src.errored;
          throw err;
        }
      });
    } catch (err) {
      counter.destroy();
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.onUploadCreated.delete(fullKey);
      // On success the object is complete; on failure lib-storage aborted the upload. Either way the marker is done.
      if (markerWritten) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(markerKey) })).catch(() => {});
    }
    return { key, bytes: bytes() };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    checkKey(key);
    return this.getRaw(key, range);
  }

  private async getRaw(key: string, range?: ByteRange): Promise<Readable> {
    const r = await this.call('GetObject', key, () => this.client.send(new GetObjectCommand({
      Bucket: this.bucket, Key: this.full(key), ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
    })));
    return r.Body as Readable;
  }

  async getBuffer(key: string): Promise<Buffer> {
    checkKey(key);
    return this.getBufferRaw(key);
  }

  private async getBufferRaw(key: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of await this.getRaw(key)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return { key, bytes: h.ContentLength ?? 0, modifiedAt: h.LastModified ?? new Date(0) };
    } catch (err) {
      if (httpStatus(err) === 404 && errorCode(err) !== 'NoSuchBucket') return null;
      throw classifyS3Error(err, { op: 'HeadObject', bucket: this.bucket, key: this.full(key), endpoint: this.endpoint, attempts: this.settings.maxAttempts });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    return (await this.listRaw(prefix)).filter((o) => !o.key.startsWith(INTERNAL_PREFIX));
  }

  private async listRaw(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const r = await this.call('ListObjectsV2', prefix, () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.full(prefix), ContinuationToken: token })));
      for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(this.root.length), bytes: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.deleteRaw(key);
  }

  private async deleteRaw(key: string): Promise<void> {
    await this.call('DeleteObject', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) })));
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkPrefix(prefix);
    if (!prefix.endsWith('/') || prefix === '') throw new RangeError(`deletePrefix needs a directory prefix ending in '/', got '${prefix}'`);
    const objects = await this.list(prefix);
    for (let i = 0; i < objects.length; i += 1000) {
      const batch = objects.slice(i, i + 1000);
      const r = await this.call('DeleteObjects', prefix, () => this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((o) => ({ Key: this.full(o.key) })), Quiet: true } })));
      const failed = r.Errors ?? [];
      if (failed.length > 0) {
        throw classifyS3Error(Object.assign(new Error(failed[0]!.Message ?? 'delete failed'), { name: failed[0]!.Code ?? 'DeleteFailed' }), { op: 'DeleteObjects', bucket: this.bucket, key: failed[0]!.Key, endpoint: this.endpoint, attempts: 1 });
      }
    }
    return objects.length;
  }

  acquireLock(name: string, opts: LockOptions): Promise<LockHandle> {
    return acquireListLock(this.lockStore(), name, opts);
  }

  /** The internal-area access the list-based lock needs (src/storage/s3-lock.ts). */
  private lockStore(): LockStore {
    return {
      location: this.location,
      putSmall: async (key, body) => void (await this.call('PutObject', key, () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: body, ContentType: 'application/json' })))),
      list: (prefix) => this.listRaw(prefix),
      read: (key) => this.getBufferRaw(key),
      remove: (key) => this.deleteRaw(key),
    };
  }

  /**
   * Aborts the multipart uploads of writers that are gone: first those named by upload markers (works on any
   * S3 server), then, where the server can list them, any other upload under this prefix older than olderThanMs.
   */
  async cleanupAbandoned(opts: CleanupOptions): Promise<CleanupReport> {
    const report: CleanupReport = { aborted: [], leftOver: [], notes: [] };
    const handled = new Set<string>();
    const liveIds = new Set<string>();
    for (const o of await this.listRaw(`${INTERNAL_PREFIX}uploads/`)) {
      const marker = await this.getBufferRaw(o.key).then((b) => JSON.parse(b.toString('utf8')) as UploadMarker, () => null);
      if (!marker) continue;
      if (!writerGone(marker.owner, o.modifiedAt, opts.olderThanMs)) {
        liveIds.add(marker.uploadId);
        continue;
      }
      handled.add(marker.uploadId);
      const r = await this.abortUpload(marker.key, marker.uploadId);
      if (r === 'aborted') report.aborted.push({ key: marker.key, uploadId: marker.uploadId, via: 'marker' });
      else if (r !== 'gone') report.leftOver.push({ key: marker.key, uploadId: marker.uploadId, reason: r });
      await this.deleteRaw(o.key);
    }
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    try {
      do {
        const r = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.root, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
        for (const u of r.Uploads ?? []) {
          if (!u.Key || !u.UploadId || handled.has(u.UploadId) || liveIds.has(u.UploadId)) continue;
          if (Date.now() - (u.Initiated?.getTime() ?? Date.now()) <= opts.olderThanMs) continue;
          const res = await this.abortUpload(u.Key, u.UploadId);
          if (res === 'aborted') report.aborted.push({ key: u.Key, uploadId: u.UploadId, via: 'list-uploads' });
          else if (res !== 'gone') report.leftOver.push({ key: u.Key, uploadId: u.UploadId, reason: res });
        }
        keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
        idMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
      } while (keyMarker);
    } catch (err) {
      if (!unsupported(err)) throw classifyS3Error(err, { op: 'ListMultipartUploads', bucket: this.bucket, endpoint: this.endpoint, attempts: this.settings.maxAttempts });
      report.notes.push(`the S3 server does not list multipart uploads (${errorCode(err)}): only uploads with a marker were found; add a lifecycle rule AbortIncompleteMultipartUpload as a backstop`);
    }
    if (report.leftOver.length > 0) report.notes.push('the S3 server cannot abort multipart uploads: their parts stay until a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them');
    return report;
  }

  /** 'aborted', 'gone' (completed or aborted already), or why it could not be aborted. */
  private async abortUpload(fullKey: string, uploadId: string): Promise<string> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }));
      return 'aborted';
    } catch (err) {
      if (errorCode(err) === 'NoSuchUpload') return 'gone';
      if (unsupported(err)) return `AbortMultipartUpload not supported by the server (${errorCode(err)})`;
      throw classifyS3Error(err, { op: 'AbortMultipartUpload', bucket: this.bucket, key: fullKey, endpoint: this.endpoint, attempts: this.settings.maxAttempts });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function unsupported(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'NotImplemented' || code === 'MethodNotAllowed' || httpStatus(err) === 501 || httpStatus(err) === 405;
}
