export { Output, JSON_DOC_VERSION } from './output.ts';
export type { OutputOptions } from './output.ts';
export { formatBytes, formatProgress, formatDuration, ProgressTracker } from './progress.ts';
export type { ProgressEvent, ProgressFn, Progress } from './progress.ts';
export { renderTable, renderKeyValues } from './table.ts';
