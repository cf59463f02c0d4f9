export { findPgTool, parseToolVersion, candidateDirs } from './find.ts';
export type { PgTool, PgToolName, FindToolOptions } from './find.ts';
export { runPgTool, spawnPgTool, withPassfile, libpqEnv, stderrTail, firstErrorLine, childFailure, toolPrivilegeError } from './run.ts';
export type { RunToolOptions } from './run.ts';
export { startThrowawayCluster, freePort } from './cluster.ts';
export type { ThrowawayCluster, ThrowawayClusterOptions } from './cluster.ts';
