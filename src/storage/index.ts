import { LocalRepository } from './local.ts';
import type { BackupLocation } from './location.ts';
import { S3Repository, type S3Deps } from './s3.ts';
import { resolveS3Settings, type S3FileConfig, type S3Settings } from './s3-settings.ts';
import type { Repository } from './types.ts';

export * from './types.ts';
export { describeLocation, isS3Url, parseBackupLocation, parseS3Url, type BackupLocation, type LocalLocation, type S3Location } from './location.ts';
export { resolveS3Settings, type S3FileConfig, type S3Settings } from './s3-settings.ts';
export { LocalRepository } from './local.ts';
export { S3Repository } from './s3.ts';

export interface OpenRepositoryInput {
  location: BackupLocation;
  /** Resolved settings, or env + the config file's `s3` object to resolve them from. */
  s3?: S3Settings;
  env?: Readonly<Record<string, string | undefined>>;
  s3File?: S3FileConfig;
}

/** The one place that picks an implementation: backup and restore only see `Repository`. */
export function openRepository(input: OpenRepositoryInput, deps: S3Deps = {}): Repository {
  if (input.location.kind === 'local') return new LocalRepository(input.location.dir);
  return new S3Repository(input.location, input.s3 ?? resolveS3Settings(input.env ?? {}, input.s3File), deps);
}
