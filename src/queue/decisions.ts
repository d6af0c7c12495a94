/**
 * The queue's decisions: which record ends a situation that the caller did
 * not spell out. A failed delivery (nack) is retried after the backoff,
 * dead-lettered when out of attempts, or removed when its cancellation was
 * requested; an expired lease and a claim interrupted by a process exit end
 * the same way without backoff; due scheduled jobs are promoted; done and
 * dead jobs past their retention are swept.
 *
 * Pure functions of the state, the configuration and `now`: they read, never
 * change anything, and are unit-tested like `apply`. The queue applies and
 * logs what they return; replay never calls them (records carry the outcome).
 */
import type { QueueConfigs } from "./config.js";
import type { QueueConfig } from "./options.js";
import {
  type CancelRecord,
  type DeadRecord,
  type PromoteRecord,
  type QueueRecord,
  type ReleaseRecord,
  type RetryRecord,
  Tag,
} from "./records.js";
import type { Job, State } from "./state.js";
import { MAX_TIMESTAMP_MS } from "./validate.js";

/** lastError of a job whose lease ran out. */
export const LEASE_EXPIRED = "lease expired";
/** lastError of a job that was claimed when its process went away and had no attempts left. */
export const CLAIM_INTERRUPTED = "claim interrupted by process exit";

/** The record that ends a delivery that did not succeed. */
export type FailedDeliveryRecord = CancelRecord | DeadRecord | RetryRecord;

/**
 * Delay before retry number `attempts` (1 after the first failed claim):
 * `min(base · 2^(attempts−1), max)`, or 0 when the base is 0.
 */
export function backoffMs(config: Readonly<QueueConfig>, attempts: number): number {
  if (config.retryBackoffBaseMs === 0) return 0;
  const exponent = Math.max(0, attempts - 1);
  // 2^1100 overflows to Infinity, which min() then caps: saturating by construction.
  return Math.min(config.retryBackoffBaseMs * 2 ** exponent, config.retryBackoffMaxMs);
}

/**
 * The one retry-or-dead-letter choice: a requested cancellation removes the
 * job; no attempts left makes it dead with `reason`; otherwise `retry`.
 */
function endDelivery(
  job: Job,
  now: number,
  reason: string,
  retry: Pick<RetryRecord, "runAt" | "error">,
): FailedDeliveryRecord {
  if (job.cancelRequested) return { tag: Tag.Cancel, id: job.id };
  if (job.attempts >= job.maxAttempts) return { tag: Tag.Dead, id: job.id, at: now, reason };
  return { tag: Tag.Retry, id: job.id, runAt: retry.runAt, error: retry.error };
}

/** A nack of claimed `job` with `error`: retry after the queue's backoff (scheduled), or at once when it is 0. */
export function decideNack(
  job: Job,
  config: Readonly<QueueConfig>,
  now: number,
  error: string,
): FailedDeliveryRecord {
  const delay = backoffMs(config, job.attempts);
  // A huge configured backoff must still give a time the log can store.
  const runAt = delay > 0 ? Math.min(Math.ceil(now + delay), MAX_TIMESTAMP_MS) : undefined;
  return endDelivery(job, now, error, { runAt, error });
}

/**
 * A claim given back before any handler ran on it: pending again at once with
 * its attempt given back, or removed when its cancellation was requested.
 */
export function decideRelease(job: Job): CancelRecord | ReleaseRecord {
  if (job.cancelRequested) return { tag: Tag.Cancel, id: job.id };
  return { tag: Tag.Release, id: job.id };
}

/** The reaper found the lease of claimed `job` expired: requeue at once (lastError "lease expired"). */
export function decideLeaseExpired(job: Job, now: number): FailedDeliveryRecord {
  return endDelivery(job, now, LEASE_EXPIRED, { runAt: undefined, error: LEASE_EXPIRED });
}

/**
 * At open, every claimed job belonged to a process that is gone: requeue it
 * at once, keeping its lastError, or dead-letter it when out of attempts.
 */
export function decideInterruptedClaims(state: State, now: number): FailedDeliveryRecord[] {
  const records: FailedDeliveryRecord[] = [];
  for (const qs of state.queues.values())
    for (const job of qs.claimed)
      records.push(
        endDelivery(job, now, CLAIM_INTERRUPTED, { runAt: undefined, error: undefined }),
      );
  return records;
}

/** The promotion of every scheduled job due by `now`, and the queues that get jobs; null when none is due. */
export function decidePromotion(
  state: State,
  now: number,
): { record: PromoteRecord; queues: string[] } | null {
  const queues: string[] = [];
  for (const qs of state.queues.values()) {
    const first = qs.scheduled.minKey();
    if (first !== undefined && first.at <= now) queues.push(qs.name);
  }
  return queues.length === 0 ? null : { record: { tag: Tag.Promote, upTo: now }, queues };
}

/** The earliest `runAt` of any scheduled job (when the scheduler must run next), or undefined. */
export function nextRunAt(state: State): number | undefined {
  let earliest: number | undefined;
  for (const qs of state.queues.values()) {
    const first = qs.scheduled.minKey();
    if (first !== undefined && (earliest === undefined || first.at < earliest)) earliest = first.at;
  }
  return earliest;
}

/** Retention sweeps due at `now`: kept done jobs and dead jobs older than their queue keeps them. */
export function decideSweeps(state: State, configs: QueueConfigs, now: number): QueueRecord[] {
  const records: QueueRecord[] = [];
  for (const qs of state.queues.values()) {
    const config = configs.get(qs.name);
    if (config.keepDoneJobsMs !== null) {
      const before = now - config.keepDoneJobsMs;
      const oldest = qs.done.minKey();
      if (oldest !== undefined && oldest.at < before)
        records.push({ tag: Tag.SweepDone, queue: qs.name, before });
    }
    if (config.deadRetentionMs !== null) {
      const before = now - config.deadRetentionMs;
      const oldest = qs.deadByTime.minKey();
      if (oldest !== undefined && oldest.at < before)
        records.push({ tag: Tag.SweepDead, queue: qs.name, before });
    }
  }
  return records;
}
