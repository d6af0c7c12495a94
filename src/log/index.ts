/**
 * The log engine: a durable, fenced, group-committed write-ahead log of
 * opaque records in an object store, with checkpoints, recovery and GC.
 * This is the layer's public face; the queue imports only from here.
 */
export { inspectLog, readLog, readLogAfter, readLogCheckpoint } from "./inspect.js";
export { openLog } from "./open.js";
export type { LogOptions, ReadLogOptions, RetryOptions } from "./options.js";
export { type WalCursor, WalTail } from "./tail.js";
export type {
  FullReadNeeded,
  Log,
  LogContents,
  LogInspection,
  LogPosition,
  LogStats,
  LogUpdate,
  RecoveredLog,
  RecoveryReport,
  SnapshotEncoder,
  SnapshotSource,
} from "./types.js";
