/**
 * The queue's decisions: which record ends a situation that the caller did
 * not spell out. A failed delivery (nack) is retried after the backoff,
 * dead-lettered when out of attempts, or removed when its cancellation was
 * requested (leaving a tombstone); an expired lease and a claim interrupted by a process exit end
 * the same way without backoff; due scheduled jobs are promoted; done and
 * dead jobs past their retention are swept, and so are the tombstones of
 * cancelled jobs.
 *
 * Pure functions of the state, the configuration and `now`: they read, never
 * change anything, and are unit-tested like `apply`. The queue applies and
 * logs what they return; replay never calls them (records carry the outcome).
 */
import type { QueueConfigs } from "./config.js";
import { oldestDone } from "./done-order.js";
import { WAITING_AT } from "./flow-state.js";
import type { QueueConfig } from "./options.js";
import {
  BULK_RECORD_JOBS,
  type PromoteSomeRecord,
  type SweepCancelledRecord,
  type SweepSomeRecord,
} from "./records/bulk.js";
import type { CancelRecord, DeadRecord, ReleaseRecord, RetryRecord } from "./records/job.js";
import { Tag } from "./records/tags.js";
import type { State } from "./state.js";
import { Flag, slot } from "./table.js";
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
 * The one retry-or-dead-letter choice for claimed job `h`: a requested
 * cancellation removes the job; no attempts left makes it dead with
 * `reason`; otherwise `retry`.
 */
function endDelivery(
  state: State,
  h: number,
  now: number,
  reason: string,
  retry: Pick<RetryRecord, "runAt" | "error" | "cause">,
): FailedDeliveryRecord {
  const page = state.table.read(h);
  const i = slot(h);
  const id = state.idOf(h);
  // The failed attempt's error stays in the cancelled job's history.
  if (page.flags[i]! & Flag.CancelRequested)
    return retry.error === undefined
      ? { tag: Tag.Cancel, id, at: now }
      : { tag: Tag.Cancel, id, at: now, error: retry.error };
  if (page.attempts[i]! >= page.maxAttempts[i]!)
    // The history records how the last attempt really ended.
    return retry.cause === undefined
      ? { tag: Tag.Dead, id, at: now, reason }
      : { tag: Tag.Dead, id, at: now, reason, cause: retry.cause };
  const record: RetryRecord = {
    tag: Tag.Retry,
    id,
    runAt: retry.runAt,
    error: retry.error,
    at: now,
  };
  return retry.cause === undefined ? record : { ...record, cause: retry.cause };
}

/** A nack of claimed job `h` with `error`: retry after the queue's backoff (scheduled), or at once when it is 0. */
export function decideNack(
  state: State,
  h: number,
  config: Readonly<QueueConfig>,
  now: number,
  error: string,
  cause?: "timed_out",
): FailedDeliveryRecord {
  const delay = backoffMs(config, state.table.read(h).attempts[slot(h)]!);
  // A huge configured backoff must still give a time the log can store.
  const runAt = delay > 0 ? Math.min(Math.ceil(now + delay), MAX_TIMESTAMP_MS) : undefined;
  return endDelivery(state, h, now, error, { runAt, error, cause });
}

/**
 * A delivery of claimed job `h` that no retry is to heal (`deadLetter`, a
 * handler's `PermanentFailure`, or its offloaded payload object is damaged):
 * dead-lettered at once with `reason` whatever attempts are left, or removed
 * when its cancellation was requested (`reason` kept as its attempt's error),
 * as a failed delivery is.
 */
export function decideDeadLetter(
  state: State,
  h: number,
  now: number,
  reason: string,
): CancelRecord | DeadRecord {
  const id = state.idOf(h);
  if ((state.table.read(h).flags[slot(h)]! & Flag.CancelRequested) !== 0)
    return { tag: Tag.Cancel, id, at: now, error: reason };
  return { tag: Tag.Dead, id, at: now, reason };
}

/**
 * A claim given back before any handler ran on it: pending again at once with
 * its attempt given back, or removed (cancelled at `now`) when its
 * cancellation was requested.
 */
export function decideRelease(state: State, h: number, now: number): CancelRecord | ReleaseRecord {
  const id = state.idOf(h);
  if ((state.table.read(h).flags[slot(h)]! & Flag.CancelRequested) !== 0)
    return { tag: Tag.Cancel, id, at: now };
  return { tag: Tag.Release, id };
}

/** The reaper found the lease of claimed job `h` expired: requeue at once (lastError "lease expired"). */
export function decideLeaseExpired(state: State, h: number, now: number): FailedDeliveryRecord {
  return endDelivery(state, h, now, LEASE_EXPIRED, {
    runAt: undefined,
    error: LEASE_EXPIRED,
    cause: "lease_expired",
  });
}

/**
 * The jobs claimed when the state was restored: they belonged to a process
 * that is gone. Taken once at open, before this process claims anything.
 */
export function interruptedClaims(state: State): number[] {
  const claimed: number[] = [];
  for (const qs of state.queueList) for (const h of qs.claimed.toArray()) claimed.push(h);
  return claimed;
}

/**
 * The end of interrupted claim `h`: requeue it at once, keeping its
 * lastError, or dead-letter it when out of attempts.
 */
export function decideInterruptedClaim(state: State, h: number, now: number): FailedDeliveryRecord {
  return endDelivery(state, h, now, CLAIM_INTERRUPTED, {
    runAt: undefined,
    error: undefined,
    cause: "interrupted",
  });
}

/**
 * The next slice of promotion at `now`: for each queue with a scheduled job
 * due, a record promoting up to `limit` of them (at most
 * {@link BULK_RECORD_JOBS}). Empty when none is due; call again after
 * applying them while queues still have due jobs.
 */
export function decidePromotion(
  state: State,
  now: number,
  limit = BULK_RECORD_JOBS,
): PromoteSomeRecord[] {
  const most = Math.min(limit, BULK_RECORD_JOBS);
  const records: PromoteSomeRecord[] = [];
  for (const qs of state.queueList) {
    const first = qs.scheduled.min();
    if (first !== -1 && state.table.read(first).at[slot(first)]! <= now)
      records.push({ tag: Tag.PromoteSome, queue: qs.name, upTo: now, limit: most });
  }
  return records;
}

/**
 * The earliest `runAt` of any scheduled job (when the promotion pass must run
 * next), or undefined. Flow parents waiting for their children are kept as
 * scheduled at {@link WAITING_AT} but are woken by their children's ends, not
 * by time: counting them would wake the pass every scheduler interval for as
 * long as one waits. (The scheduled index is ordered by time, so a queue
 * whose first scheduled job waits holds only waiting parents.)
 */
export function nextRunAt(state: State): number | undefined {
  let earliest: number | undefined;
  for (const qs of state.queueList) {
    const first = qs.scheduled.min();
    if (first === -1) continue;
    const at = state.table.read(first).at[slot(first)]!;
    if (at === WAITING_AT) continue;
    if (earliest === undefined || at < earliest) earliest = at;
  }
  return earliest;
}

/**
 * The next slice of retention sweeps due at `now`: kept done jobs and dead
 * jobs older than their queue keeps them, at most `limit` (and at most
 * {@link BULK_RECORD_JOBS}) per record. Empty when nothing is due; call again
 * after applying them.
 *
 * Done jobs without a result are kept for `keepDoneJobsMs`; a done job holding
 * a result for the longer of that and `resultRetentionMs` (without
 * `keepDoneJobsMs` only jobs acked with a result are kept as done, and any
 * kept without one from an earlier configuration age out with them). When
 * the two ages are equal one `SweepDoneSome` takes both kinds, as earlier
 * releases did; when results outlive the rest, `SweepDoneNoResultSome` takes
 * the jobs without one at the shorter age and `SweepDoneSome` the rest at
 * the longer.
 */
export function decideSweeps(
  state: State,
  configs: QueueConfigs,
  now: number,
  limit = BULK_RECORD_JOBS,
): SweepSomeRecord[] {
  const most = Math.min(limit, BULK_RECORD_JOBS);
  const records: SweepSomeRecord[] = [];
  const olderThan = (h: number, before: number) =>
    h !== -1 && state.table.read(h).at[slot(h)]! < before;
  for (const qs of state.queueList) {
    const config = configs.get(qs.name);
    const { keepDoneJobsMs, resultRetentionMs } = config;
    const withResultMs = Math.max(keepDoneJobsMs ?? 0, resultRetentionMs);
    const noResultMs = keepDoneJobsMs ?? resultRetentionMs;
    if (noResultMs < withResultMs) {
      const before = now - noResultMs;
      if (olderThan(qs.doneNoResult.min(), before))
        records.push({ tag: Tag.SweepDoneNoResultSome, queue: qs.name, before, limit: most });
    }
    {
      const before = now - withResultMs;
      if (olderThan(oldestDone(state, qs), before))
        records.push({ tag: Tag.SweepDoneSome, queue: qs.name, before, limit: most });
    }
    if (config.deadRetentionMs !== null) {
      const before = now - config.deadRetentionMs;
      if (olderThan(qs.deadByTime.min(), before))
        records.push({ tag: Tag.SweepDeadSome, queue: qs.name, before, limit: most });
    }
  }
  return records;
}

/**
 * The next slice of tombstone sweeps due at `now`: for each queue whose
 * oldest cancelled job was cancelled more than its `resultRetentionMs` ago, a
 * record dropping up to `limit` (at most {@link BULK_RECORD_JOBS}) of its
 * tombstones. Empty when none is due; call again after applying them.
 */
export function decideCancelledSweeps(
  state: State,
  configs: QueueConfigs,
  now: number,
  limit = BULK_RECORD_JOBS,
): SweepCancelledRecord[] {
  const records: SweepCancelledRecord[] = [];
  if (state.cancelled.size === 0) return records;
  const most = Math.min(limit, BULK_RECORD_JOBS);
  for (const qs of state.queueList) {
    const oldest = state.cancelled.oldestAt(qs.index);
    if (oldest === undefined) continue;
    const before = now - configs.get(qs.name).resultRetentionMs;
    if (oldest < before)
      records.push({ tag: Tag.SweepCancelledSome, queue: qs.name, before, limit: most });
  }
  return records;
}
