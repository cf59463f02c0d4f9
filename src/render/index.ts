export { Output, JSON_DOC_VERSION, formatBytes, formatProgress } from './output.ts';
export type { OutputOptions, ProgressEvent, ProgressFn } from './output.ts';
export { renderTable, renderKeyValues } from './table.ts';
