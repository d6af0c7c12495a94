/**
 * The queue's public data shapes: jobs as callers see them, claims, stats,
 * priorities. (Options are declared in `options.ts`.)
 */

/** Claimed before {@link PRIORITY_NORMAL} jobs. Lower numbers are claimed first. */
export const PRIORITY_HIGH = 100;
/** The default priority. */
export const PRIORITY_NORMAL = 1_000;
/** Claimed after {@link PRIORITY_NORMAL} jobs. */
export const PRIORITY_LOW = 10_000;

/** Where a job is in its life cycle. */
export type JobStatus = "pending" | "scheduled" | "claimed" | "done" | "dead";

/** A job payload: bytes, or a well-formed Unicode string (no lone surrogates) stored as UTF-8. */
export type Payload = Uint8Array | string;

/** A value JSON can hold: what `ctx.progress` takes and `JobRecord.progress` returns. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A snapshot of one job. Timestamps are milliseconds since the UNIX epoch. */
export interface JobRecord {
  /** ULID, strictly increasing in enqueue order within a store. */
  id: string;
  /** The queue the job is in. */
  queue: string;
  /**
   * The job's payload. Empty when `payloadError` is set (a listing could not
   * read the offloaded object), and in a `QueueReader`'s records of an
   * offloaded payload until it is read (see `payloadRef`): code that copies
   * listed payloads (re-enqueues or exports them) should check
   * `payloadError` first.
   */
  payload: Uint8Array;
  /** The headers given at enqueue (`EnqueueOptions.headers`), e.g. a `traceparent`. */
  headers: Record<string, string>;
  /** Where the job is in its life: pending, claimed, scheduled, done or dead. */
  status: JobStatus;
  /** Claims so far. */
  attempts: number;
  /** Claims allowed before the job goes dead. */
  maxAttempts: number;
  /** First enqueue time; preserved across requeue of a dead job. */
  enqueuedAt: number;
  /** Time of the current claim (only while claimed). */
  claimedAt?: number;
  /** Only while claimed; at most `MAX_TIMESTAMP_MS` (a longer lease reports the end of the `Date` range). */
  leaseExpiresAt?: number;
  /** Only while scheduled. */
  runAt?: number;
  /** Lower is claimed first. */
  priority: number;
  /** The message of the last failed attempt, if any. */
  lastError?: string;
  /** Cleared when the job is claimed. */
  dedupKey?: string;
  /** Only on kept done jobs. */
  completedAt?: number;
  /** Set when the job became dead. */
  failedAt?: number;
  /**
   * What the handler returned (or `ack(claim, { result })` passed), on a done
   * job, kept for the queue's `resultRetentionMs`.
   */
  result?: Uint8Array;
  /** The job's handler deadline under `runWorker` (`EnqueueOptions.timeoutMs`). */
  timeoutMs?: number;
  /** The job's fairness group within its queue (`EnqueueOptions.groupKey`). */
  groupKey?: string;
  /**
   * Set when the payload is stored as its own object (larger than
   * `payloadOffloadBytes`): that object's key. `Queue` methods return the
   * payload itself (`listJobs` with `loadPayloads: false` leaves it out, and
   * a listing leaves it out of a job whose object it could not read, see
   * `payloadError`); `QueueReader` leaves it out (empty) until
   * `reader.loadPayload(job)` (or `reader.loadJob(id)`, or
   * `reader.listJobsLoaded`) reads it.
   */
  payloadRef?: string;
  /**
   * Set with `payloadRef`: the offloaded payload's size in bytes, so a
   * `QueueReader` listing (which leaves such payloads out) still tells an
   * offloaded payload from an empty one, and how large it is.
   */
  payloadSize?: number;
  /**
   * Set only on a job of a listing (`listJobs`, `deadJobs`,
   * `QueueReader.listJobsLoaded`) whose offloaded payload could not be read
   * because its object is damaged (it failed its size or checksum check) or
   * gone: why, naming the object. Its `payload` is then empty, and
   * `payloadRef` and `payloadSize` still say where and how large it was. The
   * rest of the page is listed as usual; `getJob` of that job rejects with
   * the error itself: a `CorruptionError` for a damaged object, a
   * `StorageError` for a missing one.
   */
  payloadError?: string;
  /**
   * A flow parent still waiting for its children (`enqueueFlow`): how many
   * have not ended. Such a job shows as `scheduled`, without a `runAt`, and
   * becomes pending once this reaches 0.
   */
  waitingChildren?: number;
  /**
   * The handler's last progress (`ctx.progress`): live while claimed, then
   * kept with the settlement (a retry, dead-letter or kept done job).
   */
  progress?: JsonValue;
}

/**
 * How one attempt at a job ended (or, for `requeued`, how the job came back).
 * An attempt whose lease expired, whose process went away or that timed out
 * is recorded as such whether the job is retried or, out of attempts, goes
 * dead; `dead_lettered` is a dead-letter or a failure that left no attempts.
 */
export type AttemptOutcome =
  | "completed"
  | "retried"
  | "dead_lettered"
  | "lease_expired"
  | "interrupted"
  | "timed_out"
  | "requeued"
  | "cancelled";

/** One entry of `attemptHistory(id)`, oldest first. */
export interface JobAttempt {
  /** The attempt number (claims so far when it ended); 0 for `requeued`. */
  attempt: number;
  /** When the attempt's claim began; absent for `requeued`. */
  claimedAt?: number;
  /** When the attempt ended (ms since the UNIX epoch). */
  recordedAt: number;
  /** The failure message, for failed attempts. */
  error?: string;
  /** How the attempt ended. */
  outcome: AttemptOutcome;
}

/** How a job ended, as `waitForCompletion` reports it. */
export type Completion =
  | { status: "done"; result?: Uint8Array }
  | { status: "dead"; error: string }
  | { status: "cancelled" }
  /** `timeoutMs` elapsed first. */
  | { status: "timeout" }
  /** Unknown id, or gone past retention. */
  | { status: "not_found" };

/** Private brand of a live claim; see {@link Claim}. */
export const CLAIM_TOKEN: unique symbol = Symbol("taquba.claim");

/** The opaque lease a claim refers to. */
export interface ClaimToken {
  readonly id: string;
}

/** A claimed job. Only a `Claim` returned by `claim()` (and still live) can be settled. */
export interface Claim extends JobRecord {
  /** The lease this claim holds; private to the queue that handed it out. */
  readonly [CLAIM_TOKEN]: ClaimToken;
}

/**
 * Counters of one queue. `pending`, `claimed`, `scheduled` and `dead` are how
 * many jobs are in that status now; `done` is not (see there).
 */
export interface QueueStats {
  /** The queue's name. */
  queue: string;
  /** Jobs in status `pending` now (claimable, unless the queue is paused). */
  pending: number;
  /** Jobs in status `claimed` now. */
  claimed: number;
  /**
   * How many jobs of the queue ever completed (were acked): a cumulative
   * counter, kept across restarts and never decremented, not by
   * `removeJobs(queue, "done")`, the `keepDoneJobsMs` sweep, nor an ack that
   * keeps no record of the job. It is not the number of done jobs held:
   * `listJobs(queue, "done")` lists those. Its growth between two reads is
   * the completions in between.
   */
  done: number;
  /** Jobs in status `dead` now. */
  dead: number;
  /** Jobs in status `scheduled` now (waiting for their `runAt`). */
  scheduled: number;
  /** Paused by `pauseQueue`: claims hand out nothing until `resumeQueue`. */
  paused: boolean;
}

/** What `wakeScheduled` did. */
export type WakeOutcome = "woken" | "not_scheduled" | "not_found";

/**
 * What `cancel` did: `removed` (a pending or scheduled job, or a flow with
 * its children, is gone), `requested` (a claimed job: its handler's signal is
 * aborted and the job is dropped when the attempt ends), `not_found` (unknown,
 * or already done or dead).
 */
export type CancelOutcome = "removed" | "requested" | "not_found";
