/**
 * The queue's options and per-queue settings: their declarations, each field
 * documented with its default, and the default values themselves.
 * Resolving and validating them is `config.ts`'s job.
 */
import type { Clock } from "../clock.js";
import type { LogOptions } from "../log/index.js";
import type { Logger } from "../logger.js";
import type { TelemetryOptions } from "./telemetry/options.js";
import type { TransactionAckOptions } from "./transaction-builder.js";
import { PRIORITY_NORMAL } from "./types.js";

const DAY_MS = 86_400_000;

/** Per-queue settings. Each field can be set for all queues or for one (see {@link OpenOptions}). */
export interface QueueConfig {
  /**
   * Claims allowed before a failure dead-letters the job.
   * @default 3
   */
  maxAttempts: number;
  /**
   * Lease of a claim, in milliseconds.
   * @default 30_000
   */
  leaseMs: number;
  /**
   * Priority of jobs enqueued without one; lower is claimed first.
   * @default PRIORITY_NORMAL (1_000)
   */
  defaultPriority: number;
  /**
   * Base of the exponential nack backoff, `min(base · 2^(attempts−1), max)`; 0 requeues at once.
   * @default 1_000
   */
  retryBackoffBaseMs: number;
  /**
   * Cap of one backoff delay.
   * @default 300_000
   */
  retryBackoffMaxMs: number;
  /**
   * How long acked jobs are kept as "done"; `null` deletes them on ack.
   * @default null
   */
  keepDoneJobsMs: number | null;
  /**
   * How long dead jobs are kept; `null` keeps them forever.
   * @default 604_800_000 (7 days)
   */
  deadRetentionMs: number | null;
  /**
   * How long an acked job that has a result (the handler's return value, or
   * `ack(claim, { result })`) is kept as "done" with it, so `getJob(id).result`
   * and `waitForCompletion` can read it, when the queue does not keep done jobs
   * anyway. With `keepDoneJobsMs` set, a done job holding a result is kept
   * for the longer of the two, one without a result for `keepDoneJobsMs`.
   * @default 86_400_000 (24 hours)
   */
  resultRetentionMs: number;
  /**
   * At most `max` claims of the queue in any `perMs` window (monotonic time),
   * shared by every claimer of the process. Claims that find the window full
   * get fewer jobs or none; waiting ones (`waitMs`, `runWorker`) are served in
   * order when it opens again. A job the claim dead-lettered because its
   * offloaded payload object is damaged is not counted: it was never handed
   * out. `max` from 1 to 1 000 000.
   * @default null (no limit)
   */
  rateLimit: { max: number; perMs: number } | null;
  /**
   * At most this many claimed jobs per `groupKey` at a time (jobs without a
   * key are not capped). Claims rotate round-robin over the groups with
   * pending jobs either way.
   * @default null (no cap)
   */
  groupConcurrency: number | null;
}

/** Defaults of {@link QueueConfig}. */
export const DEFAULT_QUEUE_CONFIG: Readonly<QueueConfig> = Object.freeze({
  maxAttempts: 3,
  leaseMs: 30_000,
  defaultPriority: PRIORITY_NORMAL,
  retryBackoffBaseMs: 1_000,
  retryBackoffMaxMs: 300_000,
  keepDoneJobsMs: null,
  deadRetentionMs: 7 * DAY_MS,
  resultRetentionMs: DAY_MS,
  rateLimit: null,
  groupConcurrency: null,
});

/** Every key of {@link QueueConfig}. */
export const QUEUE_CONFIG_KEYS: readonly string[] = Object.keys({
  maxAttempts: true,
  leaseMs: true,
  defaultPriority: true,
  retryBackoffBaseMs: true,
  retryBackoffMaxMs: true,
  keepDoneJobsMs: true,
  deadRetentionMs: true,
  resultRetentionMs: true,
  rateLimit: true,
  groupConcurrency: true,
} satisfies Record<keyof QueueConfig, true>);

/** Every key of {@link QueueConfig.rateLimit}. */
export const RATE_LIMIT_KEYS: readonly string[] = Object.keys({
  max: true,
  perMs: true,
} satisfies Record<keyof NonNullable<QueueConfig["rateLimit"]>, true>);

/** Options of `Queue.open`. */
export interface OpenOptions {
  /**
   * Period of the reaper: lease expiry and the retention sweeps.
   * @default 5_000
   */
  reaperIntervalMs?: number;
  /**
   * Upper bound between scheduler passes (due jobs are promoted and schedules
   * fire on time regardless); also how soon a wall-clock step is noticed, and
   * how often timers re-read a `clock` that is neither the system clock nor
   * a `ManualClock` (see `Clock`).
   * @default 1_000
   */
  schedulerIntervalMs?: number;
  /**
   * Most memory, in bytes, that events not yet told to `queue.on` listeners
   * may hold. Events are told a bounded number per turn of the event loop
   * (the rest on the next turns), and each untold one keeps its job's record
   * alive, an enqueue's payload or an ack's result with it: listeners that
   * fall behind a stream of large jobs would otherwise hold any amount. An
   * event counts its payload and result, its strings (ids, keys, messages,
   * header names and values, at 2 bytes a character) and a fixed cost for
   * its objects. Past
   * this bound the oldest untold events are dropped (one warning while the
   * listeners are behind; the queue and its jobs are unaffected). A positive
   * integer.
   * @default 67_108_864 (64 MiB)
   * @example
   * ```ts
   * // Listeners may lag by at most 8 MiB of events.
   * const queue = await Queue.open(store, "jobs", { maxEventBacklogBytes: 8 * 1024 * 1024 });
   * ```
   */
  maxEventBacklogBytes?: number;
  /**
   * Group-commit window of the log; takes precedence over `log.flushIntervalMs`.
   * `0`: no window (a lone producer waits one store round trip per enqueue;
   * under load, records still share batches).
   * @default 0 (the log's default)
   */
  flushIntervalMs?: number;
  /**
   * Settings of every queue, merged over {@link DEFAULT_QUEUE_CONFIG}.
   * @default {}
   */
  defaultQueueConfig?: Partial<QueueConfig>;
  /**
   * Per-queue overrides, merged over `defaultQueueConfig`.
   * @default {}
   */
  queueConfigs?: Record<string, Partial<QueueConfig>>;
  /**
   * Time source: wall time (`now()`) for job timestamps and `runAt`, monotonic
   * time (`monotonicNow()`, derived from forward movements of `now()` when the
   * clock has none) for leases, claim waits, the scheduler's and the reaper's
   * timers. A clock other than the system clock or a `ManualClock` is re-read
   * every `schedulerIntervalMs` while a timer waits on it, so a step forward
   * is noticed within that interval. A reading before 1970 is refused
   * (`InvalidArgumentError`). The log (group commit, retries, checkpoint
   * intervals) keeps the system clock unless `log.clock` is given too.
   * @default the system clock
   */
  clock?: Clock;
  /**
   * Where background failures are reported.
   * @default console warnings and errors
   */
  logger?: Logger;
  /**
   * Largest accepted payload in bytes.
   * @default 16_777_216 (16 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * Period of the writer's liveness beat: while open, the writer rewrites a
   * small `heartbeat/` object under its path this often, which
   * `QueueReader.writerHeartbeat()` reads (counter, time, interval, epoch, and
   * whether the writer closed cleanly). After each beat the writer also
   * looks for a newer writer (one listing of its manifests, and a read only of
   * one not seen before; on its own, so a slow listing never holds up a beat):
   * an idle writer learns of a takeover within about one interval and is fenced (every
   * later call rejects with `FencedError`, waiting claims resolve `null`,
   * `runWorker` loops end), where without a beat it learns only at its next
   * write. `null` writes no beat.
   * @default null
   */
  heartbeatMs?: number | null;
  /**
   * Payloads larger than this many bytes are written once as their own
   * objects under the queue store's `payload/` (before the job's record,
   * which then holds only the object's key): never held in memory or copied
   * into checkpoints, read back on claim and `getJob`, deleted once the job
   * is gone. `null` keeps every payload inline. A schedule's payload is
   * never offloaded: `schedule` refuses one larger than this.
   * @default 262_144 (256 KiB)
   */
  payloadOffloadBytes?: number | null;
  /**
   * Options passed to the log engine (`flushIntervalMs` above takes precedence).
   * The log uses the system clock unless `log.clock` is given, so a
   * `ManualClock` in `clock` controls job timing without stalling group commit.
   * @default {} (the log's defaults, with this queue's `logger`)
   */
  log?: LogOptions;
  /**
   * OpenTelemetry metrics and traces, following the OpenTelemetry convention
   * for instrumented libraries when left out: the queue records metrics when
   * the application has registered a global `MeterProvider` (an SDK), and
   * spans (with `traceparent` in the job headers) when it has registered a
   * global `TracerProvider`. The providers are looked up once, when the queue
   * opens: register the SDK before `Queue.open` (a provider registered later
   * is not used by a queue already open). With no provider registered nothing
   * of OpenTelemetry is loaded and nothing is added to an enqueue.
   *
   * `false` turns both off whatever is registered. `true`, or an options
   * object, asks for them explicitly (both on unless turned off there; the
   * global providers unless others are passed): this needs the optional
   * package `@opentelemetry/api` (opening fails with `InvalidArgumentError`
   * when it is not installed), and a `traces` tracer taken from the global
   * provider follows a `TracerProvider` registered after the open (each
   * enqueue then pays a no-op span until there is one).
   * @default undefined (metrics and traces for whichever global providers are registered when the queue opens; nothing without them)
   * @example
   * ```ts
   * // Set up the OpenTelemetry SDK first (it registers the global providers)...
   * const sdk = new NodeSDK({ metricReader, traceExporter });
   * sdk.start();
   * // ...then open the queue: its metrics and spans go to that SDK.
   * const queue = await Queue.open(store, "app");
   * // Or keep telemetry off for this queue, SDK or not:
   * const quiet = await Queue.open(store, "other", { telemetry: false });
   * ```
   */
  telemetry?: boolean | TelemetryOptions;
}

/** Every key of {@link OpenOptions}: `Queue.open` warns of others (a misspelt option is ignored). */
export const OPEN_OPTION_KEYS: readonly string[] = Object.keys({
  reaperIntervalMs: true,
  schedulerIntervalMs: true,
  maxEventBacklogBytes: true,
  flushIntervalMs: true,
  defaultQueueConfig: true,
  queueConfigs: true,
  clock: true,
  logger: true,
  maxPayloadBytes: true,
  heartbeatMs: true,
  payloadOffloadBytes: true,
  log: true,
  telemetry: true,
} satisfies Record<keyof OpenOptions, true>);

/** Default of {@link OpenOptions.maxPayloadBytes}. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** Default of {@link OpenOptions.reaperIntervalMs}. */
export const DEFAULT_REAPER_INTERVAL_MS = 5_000;
/** Default of {@link OpenOptions.maxEventBacklogBytes}: 64 MiB. */
export const DEFAULT_MAX_EVENT_BACKLOG_BYTES = 67_108_864;

/** Default of {@link OpenOptions.schedulerIntervalMs}. */
export const DEFAULT_SCHEDULER_INTERVAL_MS = 1_000;

/** Options of `enqueue`. */
export interface EnqueueOptions {
  /**
   * The job's id, chosen by the caller: 1–128 characters of `A–Z a–z 0–9 _ -`.
   * An id that a job of this store has (in any status, until the job is
   * gone) is refused with `DuplicateJobIdError`.
   * @default a generated ULID
   */
  jobId?: string;
  /**
   * Run the job this many milliseconds from now (an alternative to `runAt`;
   * giving both is an `InvalidArgumentError`). 0 runs it at once.
   * @default none (at once)
   */
  delayMs?: number;
  /**
   * Integer in [0, 2^32-1]; lower is claimed first.
   * @default the queue's `defaultPriority`
   */
  priority?: number;
  /**
   * Integer ≥ 1: claims allowed before a failure dead-letters the job.
   * @default the queue's `maxAttempts`
   */
  maxAttempts?: number;
  /**
   * A future time makes the job scheduled; a past or present one is an ordinary
   * enqueue. Whole epoch milliseconds from 0 to `MAX_TIMESTAMP_MS`; promoted when
   * the wall clock reaches it.
   * @default now
   */
  runAt?: Date | number;
  /**
   * While a job of this queue with this key is pending or scheduled, enqueue
   * returns its id. At most `MAX_DEDUP_KEY_BYTES` (1 024) UTF-8 bytes.
   * @default none
   */
  dedupKey?: string;
  /**
   * String headers kept with the job, as a plain object (a `Map` or another
   * class's instance is refused): at most `MAX_HEADERS` (64), names up to
   * `MAX_HEADER_KEY_BYTES` (256) UTF-8 bytes, values up to
   * `MAX_HEADER_VALUE_BYTES` (8 192), all together up to `MAX_HEADERS_BYTES`
   * (16 384). A W3C `traceparent` (and `tracestate`) given here, say of a
   * message relayed from another system, is the job's trace context: kept as
   * given, linked from the enqueue's span, and linked to by its handler's
   * span (see the README, "Traces"). The `traceparent` and `tracestate`
   * tracing adds count against the same limits and are left out when they do
   * not fit (the enqueue never fails for them), so the headers a job reads
   * back with can always be given here again.
   * @default {}
   */
  headers?: Record<string, string>;
  /**
   * The handler's deadline under `runWorker`, in milliseconds from when it
   * starts: `ctx.signal` aborts then and the attempt fails as "timed out"
   * (retried or dead-lettered like any failure). A positive integer.
   * @default none (no deadline)
   */
  timeoutMs?: number;
  /**
   * Debounce: when `dedupKey` hits a waiting (pending or scheduled) job, replace
   * that job's payload, headers and run time with this enqueue's (with
   * `delayMs`, each such enqueue pushes the run back) instead of leaving it
   * as it was. The job keeps its id, priority and place. Needs `dedupKey`.
   * @default false
   */
  dedupReplace?: boolean;
  /**
   * The job's fairness group within its queue (a tenant, a customer): claims
   * rotate round-robin over the groups that have pending jobs, so a group
   * with many jobs delays another group's next job by at most one turn, and
   * the queue's `groupConcurrency` caps each group's claimed jobs. 1–255
   * UTF-8 bytes.
   * @default none (the jobs without a key share one turn of the rotation, not capped)
   */
  groupKey?: string;
}

/** Every key of {@link EnqueueOptions}: an enqueue warns of others (`delay` for `delayMs` runs the job at once). */
export const ENQUEUE_OPTION_KEYS: readonly string[] = Object.keys({
  jobId: true,
  delayMs: true,
  priority: true,
  maxAttempts: true,
  runAt: true,
  dedupKey: true,
  headers: true,
  timeoutMs: true,
  dedupReplace: true,
  groupKey: true,
} satisfies Record<keyof EnqueueOptions, true>);

/** Options of `ack`. */
export interface AckOptions {
  /**
   * The job's result, kept with the done job for the queue's
   * `resultRetentionMs` (a string is stored as UTF-8). At most `maxPayloadBytes`.
   * @default none
   */
  result?: Uint8Array | string;
}

/**
 * Every key of {@link AckOptions} and of a transaction's `ack` options: an ack
 * warns of others (a misspelt `result` would drop the result).
 */
export const ACK_OPTION_KEYS: readonly string[] = Object.keys({
  result: true,
} satisfies Record<keyof AckOptions | keyof TransactionAckOptions, true>);

/** Options of `waitForCompletion`. */
export interface WaitForCompletionOptions {
  /**
   * Give up after this long (monotonic time) and resolve `{ status: "timeout" }`.
   * @default none (wait until the job ends)
   */
  timeoutMs?: number;
  /**
   * Stops the wait: the promise rejects with the signal's reason.
   * @default none
   */
  signal?: AbortSignal;
}

/** Every key of {@link WaitForCompletionOptions}: a wait warns of others (a misspelt `timeoutMs` would wait for good). */
export const WAIT_FOR_COMPLETION_OPTION_KEYS: readonly string[] = Object.keys({
  timeoutMs: true,
  signal: true,
} satisfies Record<keyof WaitForCompletionOptions, true>);

/** Options of `claim`. */
export interface ClaimOptions {
  /**
   * Lease of the claim, in milliseconds of monotonic time from when the claim
   * is handed out (a wall-clock step does not shorten or stretch it).
   * @default the queue's `leaseMs`
   */
  leaseMs?: number;
  /**
   * How long to wait for a job to arrive, in milliseconds of monotonic time.
   * A job that turns out to have a damaged (or missing) offloaded payload
   * object is not handed out (see `payloadOffloadBytes`); when every job the
   * claim took was such a one and nothing else is claimable, the claim waits
   * on for the rest of `waitMs` instead of resolving empty early.
   * @default 0
   */
  waitMs?: number;
  /**
   * Stops the wait early: the claim then resolves `null`.
   * @default none
   */
  signal?: AbortSignal;
}

/** Every key of {@link ClaimOptions}: a claim warns of others (a misspelt `leaseMs` would lease for the default). */
export const CLAIM_OPTION_KEYS: readonly string[] = Object.keys({
  leaseMs: true,
  waitMs: true,
  signal: true,
} satisfies Record<keyof ClaimOptions, true>);

/** Largest `max` of `claimBatch`: one batch is one log write and one synchronous step. */
export const MAX_CLAIM_BATCH = 1_000;

/**
 * Most jobs one `enqueueMany` call takes: the call is one atomic log write
 * and one synchronous step, so a longer list is refused
 * (`InvalidArgumentError`); split it into several calls.
 */
export const MAX_ENQUEUE_MANY = 10_000;

/**
 * Most operations one `transaction` may hold (enqueues, settlements, cancels,
 * KV writes and checks together): a transaction is checked, decided and
 * applied in one synchronous step, which this keeps short (a few
 * milliseconds). A build that adds more is refused (`InvalidArgumentError`),
 * nothing written; use `enqueueMany` for bulk enqueues.
 */
export const MAX_TRANSACTION_OPS = 1_000;

/** Options of `listQueues`. A key not declared here is refused (`InvalidArgumentError`). */
export interface ListQueuesOptions {
  /**
   * List every paused queue, also one that `pauseQueue` paused before it
   * ever held a job (a queue held back until it is ready), which
   * `listQueues` otherwise leaves out until its first job arrives. A queue
   * paused and resumed before its first job is still left out.
   * @default false
   */
  includePaused?: boolean;
}

/**
 * Options of `deadJobs`. A key not declared here is refused
 * (`InvalidArgumentError`): a misspelt cursor would list from the first job.
 */
export interface DeadJobsOptions {
  /**
   * Exclusive id bound: list the dead jobs whose ids sort after this one
   * (pass the last id of the previous page). Any string: the id of a job
   * that was removed or requeued meanwhile, or of none, bounds the page the
   * same way; an empty string lists from the first job. Ids are compared as
   * JavaScript compares strings (UTF-16 code units; job ids are ASCII, so
   * this is also byte order). A value that is not a string is refused
   * (`InvalidArgumentError`).
   * @default none (from the first)
   * @example
   * ```ts
   * const first = await queue.deadJobs("emails", { limit: 50 });
   * const next = await queue.deadJobs("emails", { limit: 50, after: first.at(-1)?.id });
   * ```
   */
  after?: string;
  /**
   * Page size, an integer ≥ 0.
   * @default 100
   */
  limit?: number;
}

/**
 * Options of `removeJobs`. A key not declared here is refused
 * (`InvalidArgumentError`), nothing removed: a misspelt filter must not
 * widen the removal to every job of the status.
 */
export interface RemoveJobsOptions {
  /**
   * Remove only jobs at least this old, in milliseconds: by enqueue time
   * (pending, scheduled), completion time (done) or failure time (dead).
   * @default none (every job in the status)
   */
  olderThanMs?: number;
  /**
   * Told how many jobs were removed so far after each of the operation's
   * writes is decided (the call resolves once all of them are durable). One
   * that throws is logged and stops nothing.
   * @default none
   */
  onProgress?: (removed: number) => void;
}

/**
 * Options of `requeueDeadJobs`. A key not declared here is refused
 * (`InvalidArgumentError`), nothing requeued: a misspelt `limit` must not
 * requeue every dead job.
 */
export interface RequeueDeadJobsOptions {
  /**
   * Requeue at most this many dead jobs (oldest first, by enqueue), an integer ≥ 0.
   * @default all of them
   */
  limit?: number;
  /**
   * Told how many jobs were requeued so far after each of the operation's
   * writes is decided (the call resolves once all of them are durable). One
   * that throws is logged and stops nothing.
   * @default none
   */
  onProgress?: (requeued: number) => void;
}

/** The keys of {@link ListQueuesOptions}: any other is refused. */
export const LIST_QUEUES_KEYS = [
  "includePaused",
] as const satisfies readonly (keyof ListQueuesOptions)[];
/** The keys of {@link DeadJobsOptions}: any other is refused. */
export const DEAD_JOBS_KEYS = [
  "after",
  "limit",
] as const satisfies readonly (keyof DeadJobsOptions)[];
/** The keys of {@link RemoveJobsOptions}: any other is refused. */
export const REMOVE_JOBS_KEYS = [
  "olderThanMs",
  "onProgress",
] as const satisfies readonly (keyof RemoveJobsOptions)[];
/** The keys of {@link RequeueDeadJobsOptions}: any other is refused. */
export const REQUEUE_DEAD_JOBS_KEYS = [
  "limit",
  "onProgress",
] as const satisfies readonly (keyof RequeueDeadJobsOptions)[];

/** Default of {@link DeadJobsOptions.limit}, shared with the CLI. */
export const DEFAULT_DEAD_JOBS_LIMIT = 100;
