/**
 * The claims a previous writer left (it crashed, or closed with claims out):
 * a new writer settles them at open, each by the `FailedDelivery` record
 * `decideInterruptedClaim` makes (requeued, or dead once out of attempts),
 * taken from the front of each queue's claimed jobs.
 *
 * The commits are sized by time, not by a count: the cost of settling one
 * claim ranges from about a microsecond (generated ids) to tens of them
 * (caller ids at a million jobs: two searches and an insert in by-id indexes
 * that miss the cache, more on a loaded core), so a fixed group of a few
 * hundred claims could alone hold the event loop past 20 ms.
 */
import { type MonotonicNow, nextTurn, type SliceBudget, StepSizer } from "../util/slices.js";
import { decideInterruptedClaim, type FailedDeliveryRecord } from "./decisions.js";
import type { QueueState } from "./queue-state.js";
import type { QueueRecord } from "./records/codec.js";
import type { State } from "./state.js";
import type { TransitionCause } from "./transition.js";

/** Claims settled by one commit at most. */
export const INTERRUPTED_PER_COMMIT = 256;
/** Claims settled by one commit at least, however little time the slice has left. */
export const INTERRUPTED_MIN_PER_COMMIT = 16;
/** The first estimate of the time to settle one claim (ms), before a commit was timed. */
export const INTERRUPTED_MS_PER_CLAIM = 0.01;

/** What settling the claims needs of the queue's core. */
export interface InterruptedClaimsTarget {
  readonly state: State;
  now(): number;
  commitInBackground(records: readonly QueueRecord[], cause?: TransitionCause): Promise<void>;
}

/**
 * One slice of settling the claims of `qs`: commits of as many claims as
 * `steps` says fit in what is left of `budget` (one commit at least), until
 * the budget is spent or no claim is left. Returns how many were settled;
 * stops early when a commit settled none (the log refused it).
 */
export function settleInterruptedSlice(
  core: InterruptedClaimsTarget,
  qs: QueueState,
  budget: SliceBudget,
  steps: StepSizer,
): number {
  let settled = 0;
  do {
    const before = qs.claimed.size;
    const now = core.now();
    steps.begin();
    const records: FailedDeliveryRecord[] = [];
    for (const h of qs.claimed.first(steps.size(budget)))
      records.push(decideInterruptedClaim(core.state, h, now));
    core.commitInBackground(records, "interrupted");
    steps.end(records.length);
    if (qs.claimed.size >= before) break; // nothing left that a commit can settle
    settled += records.length;
  } while (qs.claimed.size > 0 && !budget.spent());
  return settled;
}

/** What settling every claim over several turns needs of the queue's core besides. */
export interface InterruptedClaimsOwner extends InterruptedClaimsTarget {
  /** `true` once closed, or after the log failed: settling stops. */
  readonly closed: boolean;
  /** The clock the slices run on. */
  readonly sliceNow: MonotonicNow;
  sliceBudget(): SliceBudget;
}

/**
 * Settles every claim the previous writer left, queue by queue, in slices
 * (one per turn of the event loop), until none is left or no commit can
 * settle more. Resolves with how many were settled, or `null` when the queue
 * closed meanwhile (the rest is left for the next writer).
 */
export async function settleInterruptedClaims(
  core: InterruptedClaimsOwner,
): Promise<number | null> {
  // Commits sized to the time left in the slice, each taken from the front of a queue's
  // claimed jobs (which the commit shrinks): no list of every claim is built at once.
  const budget = core.sliceBudget();
  const steps = new StepSizer(
    INTERRUPTED_MIN_PER_COMMIT,
    INTERRUPTED_PER_COMMIT,
    INTERRUPTED_MS_PER_CLAIM,
    core.sliceNow,
  );
  let requeued = 0;
  for (const qs of core.state.queueList) {
    while (qs.claimed.size > 0) {
      if (budget.spent()) {
        await nextTurn();
        budget.start();
      }
      if (core.closed) return null;
      const before = qs.claimed.size;
      requeued += settleInterruptedSlice(core, qs, budget, steps);
      if (qs.claimed.size >= before) break; // nothing left that a commit can settle
    }
  }
  return requeued;
}
