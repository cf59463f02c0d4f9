import { ConfigError } from '../errors.ts';

/** The config file's `s3` object (all optional). Credentials never come from the config file: use the AWS chain. */
export interface S3FileConfig {
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Multipart part size in MiB (5-5120). */
  partSizeMiB?: number;
  /** Parts uploaded in parallel per object. */
  queueSize?: number;
  maxAttempts?: number;
}

export interface S3Settings {
  region: string;
  /** undefined: the SDK's own (AWS) endpoint for the region. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  partSize: number;
  queueSize: number;
  maxAttempts: number;
  sources: Record<string, 'env' | 'file' | 'default'>;
}

export const S3_DEFAULTS = { region: 'us-east-1', partSizeMiB: 8, queueSize: 4, maxAttempts: 5 } as const;

function bool(value: string, what: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off|)$/i.test(value)) return false;
  throw new ConfigError('boolean', `${what} '${value}' is not a boolean`, { hint: `set ${what} to 1 or 0` });
}

function intIn(value: unknown, what: string, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError('integer', `${what} '${String(value)}' must be an integer between ${min} and ${max}`, { hint: `fix ${what}` });
  return n;
}

/**
 * Resolves S3 connection settings: environment (the AWS SDK's own variables, plus AXISOR_S3_*) over the config
 * file's `s3` object over defaults. Pure: env and file are passed in. Credentials are left to the SDK's default
 * chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, web identity, ECS/EC2 roles).
 */
export function resolveS3Settings(env: Readonly<Record<string, string | undefined>>, file: S3FileConfig = {}): S3Settings {
  const sources: S3Settings['sources'] = {};
  const pick = <T>(name: string, envValue: T | undefined, fileValue: T | undefined, dflt: T): T => {
    if (envValue !== undefined) return (sources[name] = 'env'), envValue;
    if (fileValue !== undefined) return (sources[name] = 'file'), fileValue;
    return (sources[name] = 'default'), dflt;
  };
  const e = (k: string) => (env[k] === undefined || env[k] === '' ? undefined : env[k]);
  const region = pick('region', e('AWS_REGION') ?? e('AWS_DEFAULT_REGION'), file.region, S3_DEFAULTS.region);
  const endpoint = pick<string | undefined>('endpoint', e('AWS_ENDPOINT_URL_S3') ?? e('AWS_ENDPOINT_URL'), file.endpoint, undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/i.test(endpoint)) {
    throw new ConfigError('s3_endpoint', `S3 endpoint '${endpoint}' is not an http(s) URL`, { hint: 'fix AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL or s3.endpoint in the config file' });
  }
  const fps = e('AXISOR_S3_FORCE_PATH_STYLE');
  const forcePathStyle = pick('forcePathStyle', fps === undefined ? undefined : bool(fps, 'AXISOR_S3_FORCE_PATH_STYLE'), file.forcePathStyle, false);
  const ps = e('AXISOR_S3_PART_SIZE_MIB');
  const partSizeMiB = intIn(pick<unknown>('partSize', ps, file.partSizeMiB, S3_DEFAULTS.partSizeMiB), ps !== undefined ? 'AXISOR_S3_PART_SIZE_MIB' : 's3.partSizeMiB', 5, 5120);
  const qs = e('AXISOR_S3_QUEUE_SIZE');
  const queueSize = intIn(pick<unknown>('queueSize', qs, file.queueSize, S3_DEFAULTS.queueSize), qs !== undefined ? 'AXISOR_S3_QUEUE_SIZE' : 's3.queueSize', 1, 64);
  const ma = e('AWS_MAX_ATTEMPTS');
  const maxAttempts = intIn(pick<unknown>('maxAttempts', ma, file.maxAttempts, S3_DEFAULTS.maxAttempts), ma !== undefined ? 'AWS_MAX_ATTEMPTS' : 's3.maxAttempts', 1, 20);
  return { region, endpoint, forcePathStyle, partSize: partSizeMiB * 1024 * 1024, queueSize, maxAttempts, sources };
}
