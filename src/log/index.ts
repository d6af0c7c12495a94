/**
 * The log engine: a durable, fenced, group-committed write-ahead log of
 * opaque records in an object store, with checkpoints, recovery and GC.
 */
export { inspectLog, readLog } from "./inspect.js";
export { openLog } from "./open.js";
export type {
  Log,
  LogContents,
  LogInspection,
  LogOptions,
  LogStats,
  ReadLogOptions,
  RecoveredLog,
  RecoveryReport,
  RetryOptions,
  SnapshotSource,
} from "./types.js";
