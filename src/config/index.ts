export { resolveConfig, CONFIG_FILE_NAME } from './resolve.ts';
export type { ResolveConfigInput } from './resolve.ts';
export { parseDatabaseUrl, redactedUrl, secretUrl } from './url.ts';
export { parseDuration, parsePositiveInt } from './duration.ts';
export { redact, registerSecret } from './secrets.ts';
export * from './types.ts';
