export { DEFAULT_QUEUE_CONFIG } from "./config.js";
export { DEFAULT_MAX_PAYLOAD_BYTES, Queue } from "./queue.js";
export { QueueReader } from "./reader.js";
export {
  type CancelOutcome,
  type Claim,
  type ClaimOptions,
  type DeadJobsOptions,
  type EnqueueOptions,
  type JobRecord,
  type JobStatus,
  type OpenOptions,
  type Payload,
  PRIORITY_HIGH,
  PRIORITY_LOW,
  PRIORITY_NORMAL,
  type QueueConfig,
  type QueueStats,
} from "./types.js";
