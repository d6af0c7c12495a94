/**
 * The queue's options and per-queue settings: their declarations, each field
 * documented with its default, and the default values themselves.
 * Resolving and validating them is `config.ts`'s job. The options of single
 * calls (`enqueue`, `claim`, `ack`, listings, bulk removal and requeue) are
 * declared in `call-options.ts` and re-exported here.
 */
import type { Clock } from "../clock.js";
import type { LogOptions } from "../log/index.js";
import type { Logger } from "../logger.js";
import type { TelemetryOptions } from "./telemetry/options.js";
import { PRIORITY_NORMAL } from "./types.js";

export * from "./call-options.js";

const DAY_MS = 86_400_000;

/** Per-queue settings. Each field can be set for all queues or for one (see {@link OpenOptions}). */
export interface QueueConfig {
  /**
   * Claims allowed before a failure dead-letters the job.
   * @default 3
   * @example { maxAttempts: 5 }
   */
  maxAttempts: number;
  /**
   * Lease of a claim, in milliseconds.
   * @default 30_000
   * @example { leaseMs: 5 * 60_000 }
   */
  leaseMs: number;
  /**
   * Priority of jobs enqueued without one; lower is claimed first.
   * @default PRIORITY_NORMAL (1_000)
   * @example { defaultPriority: PRIORITY_LOW }
   */
  defaultPriority: number;
  /**
   * Base of the exponential nack backoff, `min(base · 2^(attempts−1), max)`; 0 requeues at once.
   * @default 1_000
   * @example { retryBackoffBaseMs: 5_000 }
   */
  retryBackoffBaseMs: number;
  /**
   * Cap of one backoff delay.
   * @default 300_000
   * @example { retryBackoffMaxMs: 60_000 }
   */
  retryBackoffMaxMs: number;
  /**
   * How long acked jobs are kept as "done"; `null` deletes them on ack.
   * @default null
   * @example { keepDoneJobsMs: 3_600_000 }
   */
  keepDoneJobsMs: number | null;
  /**
   * How long dead jobs are kept; `null` keeps them forever.
   * @default 604_800_000 (7 days)
   * @example { deadRetentionMs: null }
   */
  deadRetentionMs: number | null;
  /**
   * How long an acked job that has a result (the handler's return value, or
   * `ack(claim, { result })`) is kept as "done" with it, so `getJob(id).result`
   * and `waitForCompletion` can read it, when the queue does not keep done jobs
   * anyway. With `keepDoneJobsMs` set, a done job holding a result is kept
   * for the longer of the two, one without a result for `keepDoneJobsMs`.
   * @default 86_400_000 (24 hours)
   * @example { resultRetentionMs: 3_600_000 }
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
   * @example { rateLimit: { max: 10, perMs: 1_000 } }
   */
  rateLimit: { max: number; perMs: number } | null;
  /**
   * At most this many claimed jobs per `groupKey` at a time (jobs without a
   * key are not capped). Claims rotate round-robin over the groups with
   * pending jobs either way.
   * @default null (no cap)
   * @example { groupConcurrency: 1 }
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
   * @example { reaperIntervalMs: 1_000 }
   */
  reaperIntervalMs?: number;
  /**
   * Upper bound between scheduler passes (due jobs are promoted and schedules
   * fire on time regardless); also how soon a wall-clock step is noticed, and
   * how often timers re-read a `clock` that is neither the system clock nor
   * a `ManualClock` (see `Clock`).
   * @default 1_000
   * @example { schedulerIntervalMs: 250 }
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
   * @example { flushIntervalMs: 5 }
   */
  flushIntervalMs?: number;
  /**
   * Settings of every queue, merged over {@link DEFAULT_QUEUE_CONFIG}.
   * @default {}
   * @example { defaultQueueConfig: { maxAttempts: 5, leaseMs: 60_000 } }
   */
  defaultQueueConfig?: Partial<QueueConfig>;
  /**
   * Per-queue overrides, merged over `defaultQueueConfig`.
   * @default {}
   * @example { queueConfigs: { emails: { rateLimit: { max: 10, perMs: 1_000 } } } }
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
   * @example { clock: new ManualClock(Date.UTC(2030, 0, 1)) }
   */
  clock?: Clock;
  /**
   * Where background failures are reported.
   * @default console warnings and errors
   * @example { logger: silentLogger }
   */
  logger?: Logger;
  /**
   * Largest accepted payload in bytes.
   * @default 16_777_216 (16 MiB)
   * @example { maxPayloadBytes: 1024 * 1024 }
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
   * @example { heartbeatMs: 10_000 }
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
   * @example { payloadOffloadBytes: null }
   */
  payloadOffloadBytes?: number | null;
  /**
   * Options passed to the log engine (`flushIntervalMs` above takes precedence).
   * The log uses the system clock unless `log.clock` is given, so a
   * `ManualClock` in `clock` controls job timing without stalling group commit.
   * @default {} (the log's defaults, with this queue's `logger`)
   * @example { log: { checkpointIntervalMs: 60_000 } }
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
