export * from './check.ts';
export { escapeLabelValue, renderOpenMetrics } from './openmetrics.ts';
export { writeFileAtomic } from './write.ts';
