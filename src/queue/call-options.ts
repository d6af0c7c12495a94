/**
 * The options of single `Queue` calls — `enqueue`, `ack`,
 * `waitForCompletion`, `claim`, `listQueues`, `deadJobs`, `removeJobs`,
 * `requeueDeadJobs` — and the bounds and defaults they go with: their
 * declarations, each field documented with its default, and the keys each
 * call accepts. The queue's own options are in `options.ts`, which
 * re-exports these.
 */
import type { TransactionAckOptions } from "./transaction-builder.js";

/** Options of `enqueue`. */
export interface EnqueueOptions {
  /**
   * The job's id, chosen by the caller: 1–128 characters of `A–Z a–z 0–9 _ -`.
   * An id that a job of this store has (in any status, until the job is
   * gone) is refused with `DuplicateJobIdError`.
   * @default a generated ULID
   * @example { jobId: "invoice-2024-0042" }
   */
  jobId?: string;
  /**
   * Run the job this many milliseconds from now (an alternative to `runAt`;
   * giving both is an `InvalidArgumentError`). 0 runs it at once.
   * @default none (at once)
   * @example { delayMs: 60_000 }
   */
  delayMs?: number;
  /**
   * Integer in [0, 2^32-1]; lower is claimed first.
   * @default the queue's `defaultPriority`
   * @example { priority: PRIORITY_HIGH }
   */
  priority?: number;
  /**
   * Integer ≥ 1: claims allowed before a failure dead-letters the job.
   * @default the queue's `maxAttempts`
   * @example { maxAttempts: 10 }
   */
  maxAttempts?: number;
  /**
   * A future time makes the job scheduled; a past or present one is an ordinary
   * enqueue. Whole epoch milliseconds from 0 to `MAX_TIMESTAMP_MS`; promoted when
   * the wall clock reaches it.
   * @default now
   * @example { runAt: new Date("2030-01-01T09:00:00Z") }
   */
  runAt?: Date | number;
  /**
   * While a job of this queue with this key is pending or scheduled, enqueue
   * returns its id. At most `MAX_DEDUP_KEY_BYTES` (1 024) UTF-8 bytes.
   * @default none
   * @example { dedupKey: `reindex:${userId}` }
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
   * @example { headers: { tenant: "acme" } }
   */
  headers?: Record<string, string>;
  /**
   * The handler's deadline under `runWorker`, in milliseconds from when it
   * starts: `ctx.signal` aborts then and the attempt fails as "timed out"
   * (retried or dead-lettered like any failure), unless the handler's own
   * `ctx.transaction` that settles the job, in flight then, settles it (the
   * worker waits for it). A handler that returned in time is not timed out
   * while such a transaction commits. That wait lasts as long as the
   * transaction runs, within the store's retry limits (its payload uploads
   * retry for up to `log.retry.maxElapsedMs`): the job stays claimed, its
   * lease renewed, and the worker's shutdown waits too. If the queue closes
   * meanwhile, the time-out is not recorded: the next open ends the claim as
   * interrupted. A positive integer.
   * @default none (no deadline)
   * @example { timeoutMs: 30_000 }
   */
  timeoutMs?: number;
  /**
   * Debounce: when `dedupKey` hits a waiting (pending or scheduled) job, replace
   * that job's payload, headers and run time with this enqueue's (with
   * `delayMs`, each such enqueue pushes the run back) instead of leaving it
   * as it was. The job keeps its id, priority and place. Needs `dedupKey`.
   * @default false
   * @example { dedupKey: `sync:${docId}`, dedupReplace: true, delayMs: 2_000 }
   */
  dedupReplace?: boolean;
  /**
   * The job's fairness group within its queue (a tenant, a customer): claims
   * rotate round-robin over the groups that have pending jobs, so a group
   * with many jobs delays another group's next job by at most one turn, and
   * the queue's `groupConcurrency` caps each group's claimed jobs. 1–255
   * UTF-8 bytes.
   * @default none (the jobs without a key share one turn of the rotation, not capped)
   * @example { groupKey: customerId }
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
   * @example { result: JSON.stringify({ rows: 42 }) }
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
   * @example { timeoutMs: 10_000 }
   */
  timeoutMs?: number;
  /**
   * Stops the wait: the promise rejects with the signal's reason.
   * @default none
   * @example { signal: AbortSignal.timeout(10_000) }
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
   * @example { leaseMs: 120_000 }
   */
  leaseMs?: number;
  /**
   * How long to wait for a job to arrive, in milliseconds of monotonic time.
   * A job that turns out to have a damaged (or missing) offloaded payload
   * object is not handed out (see `payloadOffloadBytes`); when every job the
   * claim took was such a one and nothing else is claimable, the claim waits
   * on for the rest of `waitMs` instead of resolving empty early.
   * @default 0
   * @example { waitMs: 5_000 }
   */
  waitMs?: number;
  /**
   * Stops the wait early: the claim then resolves `null`.
   * @default none
   * @example { waitMs: 30_000, signal: controller.signal }
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
   * @example { includePaused: true }
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
   * @example { limit: 50 }
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
   * @example { olderThanMs: 7 * 86_400_000 }
   */
  olderThanMs?: number;
  /**
   * Told how many jobs were removed so far after each of the operation's
   * writes is decided (the call resolves once all of them are durable). One
   * that throws is logged and stops nothing.
   * @default none
   * @example { onProgress: (removed) => console.log(`${removed} removed`) }
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
   * @example { limit: 100 }
   */
  limit?: number;
  /**
   * Told how many jobs were requeued so far after each of the operation's
   * writes is decided (the call resolves once all of them are durable). One
   * that throws is logged and stops nothing.
   * @default none
   * @example { onProgress: (requeued) => console.log(`${requeued} requeued`) }
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
