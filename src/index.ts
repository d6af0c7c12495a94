/** The package's public API (`import … from "taquba"`): stores, the queue, the worker, errors, clock and logger. */
export { type Clock, ManualClock, systemClock } from "./clock.js";
export {
  ClaimLostError,
  ClosedError,
  CorruptionError,
  DuplicateJobIdError,
  FencedError,
  InvalidArgumentError,
  JobNotFoundError,
  StorageError,
  type StorageErrorOptions,
  TaqubaError,
  type TaqubaErrorCode,
  UnsupportedStoreError,
} from "./errors.js";
export type { LogInspection, LogOptions, ReadLogOptions, RecoveryReport } from "./log/index.js";
export { consoleLogger, type Logger, silentLogger } from "./logger.js";
export {
  type AckOptions,
  type AttemptOutcome,
  type CancelOutcome,
  type CatchUp,
  type Claim,
  type ClaimOptions,
  type Completion,
  DEFAULT_LIST_LIMIT,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_QUEUE_CONFIG,
  type DeadJobsOptions,
  type EnqueueOptions,
  type EnqueueResult,
  type JobAttempt,
  type JobInput,
  type JobPage,
  type JobRecord,
  type JobStatus,
  type ListJobsOptions,
  MAX_CLAIM_BATCH,
  MAX_DEDUP_KEY_BYTES,
  MAX_HEADER_KEY_BYTES,
  MAX_HEADER_VALUE_BYTES,
  MAX_HEADERS,
  MAX_HEADERS_BYTES,
  MAX_LIST_LIMIT,
  MAX_MESSAGE_BYTES,
  MAX_QUEUE_NAME_BYTES,
  MAX_TIMESTAMP_MS,
  type MeterProviderLike,
  type OpenOptions,
  type Payload,
  PRIORITY_HIGH,
  PRIORITY_LOW,
  PRIORITY_NORMAL,
  QUEUE_EVENT_NAMES,
  Queue,
  type QueueConfig,
  type QueueEventBase,
  type QueueEventListener,
  type QueueEventMap,
  type QueueEventName,
  QueueReader,
  type QueueStats,
  REMOVABLE_STATUSES,
  type RemovableStatus,
  type RemoveJobsOptions,
  type RequeueDeadJobsOptions,
  type ScheduleInfo,
  type ScheduleSpec,
  type TelemetryOptions,
  type TracerProviderLike,
  type WaitForCompletionOptions,
  type WakeOutcome,
  type WriterHeartbeat,
} from "./queue/index.js";
export {
  AzureBlobStore,
  type AzureBlobStoreOptions,
  type AzureContainerClientLike,
  type AzureCredential,
  type AzureStorageCredential,
  type AzureTokenCredential,
} from "./store/azure.js";
export { FileStore, type FileStoreOptions } from "./store/file.js";
export {
  type GcsBucket,
  type GcsClient,
  type GcsFile,
  type GcsListQuery,
  type GcsObjectMetadata,
  GcsStore,
  type GcsStoreOptions,
} from "./store/gcs.js";
export { MemoryStore } from "./store/memory.js";
export { type OpenStoreOptions, openStore } from "./store/open-store.js";
export {
  estimateRequestCost,
  type RequestPrices,
  requestCosts,
  S3_STANDARD_REQUEST_PRICES,
} from "./store/request-prices.js";
export {
  type S3ClientLike,
  type S3Credentials,
  S3Store,
  type S3StoreOptions,
} from "./store/s3.js";
export type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "./store/types.js";
export type { RequestCounts } from "./store/wrappers/counting.js";
export type { StoreOp } from "./store/wrappers/ops.js";
export {
  type Handler,
  type JobContext,
  PermanentFailure,
  runWorker,
  type WorkerOptions,
} from "./worker/index.js";
