import type { Clock } from "../clock.js";
import type { LogOptions } from "../log/index.js";
import type { Logger } from "../logger.js";

/** Claimed before {@link PRIORITY_NORMAL} jobs. Lower numbers are claimed first. */
export const PRIORITY_HIGH = 100;
/** The default priority. */
export const PRIORITY_NORMAL = 1_000;
/** Claimed after {@link PRIORITY_NORMAL} jobs. */
export const PRIORITY_LOW = 10_000;

/** Where a job is in its life cycle. */
export type JobStatus = "pending" | "scheduled" | "claimed" | "done" | "dead";

/** A job payload: bytes, or a string stored as UTF-8. */
export type Payload = Uint8Array | string;

/** A snapshot of one job. Timestamps are milliseconds since the UNIX epoch. */
export interface JobRecord {
  /** ULID, strictly increasing in enqueue order within a store. */
  id: string;
  queue: string;
  payload: Uint8Array;
  headers: Record<string, string>;
  status: JobStatus;
  /** Claims so far. */
  attempts: number;
  maxAttempts: number;
  /** First enqueue time; preserved across requeue of a dead job. */
  enqueuedAt: number;
  /** Time of the current claim (only while claimed). */
  claimedAt?: number;
  /** Only while claimed. */
  leaseExpiresAt?: number;
  /** Only while scheduled. */
  runAt?: number;
  /** Lower is claimed first. */
  priority: number;
  lastError?: string;
  /** Cleared when the job is claimed. */
  dedupKey?: string;
  /** Only on kept done jobs. */
  completedAt?: number;
  /** Set when the job became dead. */
  failedAt?: number;
}

/** Private brand of a live claim; see {@link Claim}. */
export const CLAIM_TOKEN: unique symbol = Symbol("taquba.claim");

/** The opaque lease a claim refers to. */
export interface ClaimToken {
  readonly id: string;
}

/** A claimed job. Only a `Claim` returned by `claim()` (and still live) can be settled. */
export interface Claim extends JobRecord {
  readonly [CLAIM_TOKEN]: ClaimToken;
}

export interface EnqueueOptions {
  /** Integer in [0, 2^32-1]; defaults to the queue's `defaultPriority`. */
  priority?: number;
  /** Integer ≥ 1; defaults to the queue's `maxAttempts`. */
  maxAttempts?: number;
  /** A future time makes the job scheduled; a past or present one is an ordinary enqueue. */
  runAt?: Date | number;
  /** While a job of this queue with this key is pending or scheduled, enqueue returns its id. */
  dedupKey?: string;
  headers?: Record<string, string>;
}

/** Per-queue settings. */
export interface QueueConfig {
  /** Claims allowed before a failure dead-letters the job. Default 3. */
  maxAttempts: number;
  /** Lease of a claim. Default 30 000. */
  leaseMs: number;
  /** Default {@link PRIORITY_NORMAL}. */
  defaultPriority: number;
  /** Base of the exponential nack backoff; 0 requeues at once. Default 1 000. */
  retryBackoffBaseMs: number;
  /** Cap of one backoff delay. Default 300 000. */
  retryBackoffMaxMs: number;
  /** How long acked jobs are kept as "done"; `null` (default) deletes them on ack. */
  keepDoneJobsMs: number | null;
  /** How long dead jobs are kept; `null` keeps them forever. Default 7 days. */
  deadRetentionMs: number | null;
}

export interface OpenOptions {
  /** Lease-expiry and retention sweep period. Default 5 000. */
  reaperIntervalMs?: number;
  /** Upper bound between scheduler passes (due jobs are promoted on time regardless). Default 1 000. */
  schedulerIntervalMs?: number;
  /** Group-commit window of the log. */
  flushIntervalMs?: number;
  defaultQueueConfig?: Partial<QueueConfig>;
  /** Per-queue overrides, merged over the default. */
  queueConfigs?: Record<string, Partial<QueueConfig>>;
  /** Default: the system clock. */
  clock?: Clock;
  /** Where background failures are reported. Default: console warnings and errors. */
  logger?: Logger;
  /** Largest accepted payload in bytes. Default 16 MiB. */
  maxPayloadBytes?: number;
  /**
   * Options passed to the log engine (`flushIntervalMs` above takes precedence).
   * The log uses the system clock unless `log.clock` is given, so a
   * `ManualClock` in `clock` controls job timing without stalling group commit.
   */
  log?: LogOptions;
}

export interface QueueStats {
  queue: string;
  pending: number;
  claimed: number;
  /** Cumulative successes; never decremented. */
  done: number;
  dead: number;
  scheduled: number;
}

export type CancelOutcome = "removed" | "requested" | "not_found";

export interface ClaimOptions {
  /** Default: the queue's `leaseMs`. */
  leaseMs?: number;
  /** How long to wait for a job to arrive. Default 0. */
  waitMs?: number;
  /** Stops the wait early: the claim then resolves `null`. */
  signal?: AbortSignal;
}

export interface DeadJobsOptions {
  /** Exclusive id cursor. */
  after?: string;
  /** Default 100. */
  limit?: number;
}
