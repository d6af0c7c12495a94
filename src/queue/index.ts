/**
 * The queue layer's public face: `Queue`, `QueueReader`, their options and
 * the job shapes. The package index re-exports from here.
 */

export type { EnqueueResult, JobInput } from "./enqueue.js";
export {
  QUEUE_EVENT_NAMES,
  type QueueEventBase,
  type QueueEventListener,
  type QueueEventMap,
  type QueueEventName,
} from "./event-types.js";
export { type FlowJob, type FlowResult, MAX_FLOW_DEPTH, MAX_FLOW_JOBS } from "./flows.js";
export type { WriterHeartbeat } from "./heartbeat.js";
export {
  DEFAULT_KV_SCAN_LIMIT,
  type KvEntry,
  type KvPage,
  type KvScanOptions,
  MAX_KV_SCAN_LIMIT,
} from "./kv.js";
export {
  MAX_DEDUP_KEY_BYTES,
  MAX_HEADER_KEY_BYTES,
  MAX_HEADER_VALUE_BYTES,
  MAX_HEADERS,
  MAX_HEADERS_BYTES,
  MAX_KV_KEY_BYTES,
  MAX_KV_VALUE_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_QUEUE_NAME_BYTES,
} from "./limits.js";
export {
  DEFAULT_LIST_LIMIT,
  type JobPage,
  type ListJobsOptions,
  MAX_LIST_LIMIT,
} from "./listing.js";
export { REMOVABLE_STATUSES, type RemovableStatus } from "./operations.js";
export {
  type AckOptions,
  type ClaimOptions,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_QUEUE_CONFIG,
  type DeadJobsOptions,
  type EnqueueOptions,
  type ListQueuesOptions,
  MAX_CLAIM_BATCH,
  MAX_ENQUEUE_MANY,
  MAX_TRANSACTION_OPS,
  type OpenOptions,
  type QueueConfig,
  type RemoveJobsOptions,
  type RequeueDeadJobsOptions,
  type WaitForCompletionOptions,
} from "./options.js";
export { MAX_PROGRESS_BYTES } from "./progress.js";
export { Queue } from "./queue.js";
export { QueueReader } from "./reader.js";
export type { CatchUp, ScheduleInfo, ScheduleSpec } from "./schedules/types.js";
export type {
  MeterProviderLike,
  TelemetryOptions,
  TracerProviderLike,
} from "./telemetry/options.js";
export type {
  Transaction,
  TransactionAckOptions,
  TransactionResult,
} from "./transaction.js";
export {
  type AttemptOutcome,
  type CancelOutcome,
  type Claim,
  type Completion,
  type JobAttempt,
  type JobRecord,
  type JobStatus,
  type JsonValue,
  type Payload,
  PRIORITY_HIGH,
  PRIORITY_LOW,
  PRIORITY_NORMAL,
  type QueueStats,
  type WakeOutcome,
} from "./types.js";
export { MAX_TIMESTAMP_MS } from "./validate.js";
export type { CancelledJobInfo } from "./views.js";
