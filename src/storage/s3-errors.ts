import { AxisorError, ConfigError, ConnectionError, NotFoundError, PrivilegeError } from '../errors.ts';

/**
 * Turns an AWS SDK error into one of ours, naming which thing is wrong. Exit codes (README table):
 *   66 NOT_FOUND   the bucket (or an object) does not exist
 *   68 CONNECTION  the endpoint cannot be reached, or it rejects the credentials (unknown key, bad secret,
 *                  expired token, none found): like a refused PostgreSQL login, the client cannot get in at all
 *   67 PRIVILEGE   the credentials are valid but lack a permission (AccessDenied): the hint names the action
 *   78 CONFIG      wrong region or endpoint style for this bucket
 * Throttling and 5xx are retried by the SDK (standard retry mode, backoff with jitter); what survives
 * every attempt is a CONNECTION error that says so.
 */
export interface S3ErrorContext {
  op: string;
  bucket: string;
  key?: string;
  endpoint: string;
  attempts: number;
}

const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'InvalidClientTokenId', 'UnrecognizedClientException', 'CredentialsProviderError']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

/** The IAM action an S3 operation needs, and whether it is granted on the bucket (true) or its objects. */
const IAM_ACTIONS: Record<string, [string, boolean]> = {
  HeadBucket: ['s3:ListBucket', true], ListObjectsV2: ['s3:ListBucket', true], ListMultipartUploads: ['s3:ListBucketMultipartUploads', true],
  HeadObject: ['s3:GetObject', false], GetObject: ['s3:GetObject', false], PutObject: ['s3:PutObject', false],
  DeleteObject: ['s3:DeleteObject', false], DeleteObjects: ['s3:DeleteObject', false], AbortMultipartUpload: ['s3:AbortMultipartUpload', false],
};

export function errorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string };
  return e?.Code ?? e?.name ?? e?.code ?? 'Error';
}

export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function networkCode(err: unknown): string | undefined {
  for (let e: any = err, i = 0; e && i < 5; e = e.cause, i++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
    if (Array.isArray(e.errors)) for (const sub of e.errors) if (NETWORK_CODES.has(sub?.code)) return sub.code;
    if (e.name === 'TimeoutError') return 'timeout';
    // The SDK wraps errors from another realm (a vm context, as under jest) into a plain message.
    const m = typeof e.message === 'string' ? /\b(E[A-Z]+)\b/.exec(e.message) : null;
    if (m && NETWORK_CODES.has(m[1]!)) return m[1];
  }
  return undefined;
}

export function classifyS3Error(err: unknown, ctx: S3ErrorContext): AxisorError {
  if (err instanceof AxisorError) return err;
  const code = errorCode(err);
  const status = httpStatus(err);
  const where = `s3://${ctx.bucket}/${ctx.key ?? ''}`;
  const endpoint = ctx.endpoint;
  const opts = { cause: err, details: { s3Code: code, httpStatus: status ?? null, operation: ctx.op } };
  const net = networkCode(err);
  if (net) {
    return new ConnectionError('s3_unreachable', `cannot reach the S3 endpoint ${endpoint} (${net}) after ${ctx.attempts} attempts`, { ...opts, hint: 'check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (or s3.endpoint in the config file), the network and any proxy' });
  }
  if (code === 'NoSuchBucket' || (ctx.op === 'HeadBucket' && status === 404)) {
    return new NotFoundError('s3_bucket', `the bucket ${ctx.bucket} does not exist at ${endpoint}`, { ...opts, hint: `create it (aws s3 mb s3://${ctx.bucket}) or fix the bucket in --backup-dir` });
  }
  if (CREDENTIAL_CODES.has(code) || code === 'Unauthorized' || (ctx.op === 'HeadBucket' && status === 401)) {
    return new ConnectionError('s3_credentials', `the S3 endpoint ${endpoint} rejected the credentials (${code})`, { ...opts, hint: 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or AWS_PROFILE (the standard AWS credential chain)' });
  }
  if (code === 'AccessDenied' || code === 'Forbidden' || status === 403) {
    const [action, onBucket] = IAM_ACTIONS[ctx.op] ?? [`s3:${ctx.op}`, false];
    return new PrivilegeError('s3_access_denied', `access denied: ${ctx.op} on ${where}`, { ...opts, hint: `grant the backup role ${action} on arn:aws:s3:::${ctx.bucket}${onBucket ? '' : '/*'} (README: least-privilege bucket policy)` });
  }
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException' || status === 301) {
    return new ConfigError('s3_region', `the bucket ${ctx.bucket} is not in the region this client uses (${code})`, { ...opts, hint: 'set AWS_REGION to the bucket\'s region (or s3.region in the config file); for MinIO/Ceph set AXISOR_S3_FORCE_PATH_STYLE=1' });
  }
  if (code === 'NoSuchKey' || (status === 404 && ctx.key)) {
    return new NotFoundError('object', `${where} does not exist`, { ...opts, hint: 'run `axisor-db backup list` to see the complete backups' });
  }
  if (code === 'SlowDown' || code === 'Throttling' || code === 'ThrottlingException' || code === 'RequestTimeout' || (status !== undefined && status >= 500)) {
    return new ConnectionError('s3_unavailable', `the S3 endpoint ${endpoint} kept failing ${ctx.op} on ${where} (${code}, HTTP ${status ?? '?'}) after ${ctx.attempts} attempts`, { ...opts, hint: 'retry later; raise AWS_MAX_ATTEMPTS (or s3.maxAttempts) for a busy endpoint' });
  }
  return new ConnectionError('s3_request', `S3 ${ctx.op} on ${where} failed: ${code}${status ? ` (HTTP ${status})` : ''}: ${(err as Error)?.message ?? String(err)}`, { ...opts, hint: 'check the bucket policy and the endpoint; rerun with --verbose for the details' });
}
