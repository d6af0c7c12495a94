/**
 * What the state knows of one queue name: the ordered indexes its jobs sit
 * in by status, its dedup index, done counter, pause and fair groups.
 */
import type { QueueGroups } from "./groups.js";
import { HandleIndex } from "./handle-index.js";
import { JobsById } from "./jobs-by-id.js";
import type { Orders } from "./orders.js";

/** The indexes of one queue, as loaded by a restore (each in its index's order). */
export interface QueueIndexes {
  pending: HandleIndex;
  scheduled: HandleIndex;
  claimed: JobsById;
  doneNoResult: HandleIndex;
  doneWithResult: HandleIndex;
  deadByTime: HandleIndex;
  deadById: JobsById;
}

/**
 * Everything known about one queue name. A job sits in exactly one of the
 * indexes that match its status (a dead one in both dead indexes); the live
 * counters are the index sizes.
 */
export class QueueState {
  /** Claim order. */
  pending: HandleIndex;
  /** Promotion order (`at` = runAt). */
  scheduled: HandleIndex;
  /** Listing order (by id, see `jobs-by-id.ts`). */
  claimed: JobsById;
  /**
   * Kept done jobs without a result, in completion order (`at` = completedAt).
   * Done jobs are split by whether they hold a result because the two age out
   * at different times (`keepDoneJobsMs`, and at least `resultRetentionMs` for
   * a result): each retention sweep then takes the oldest of one index and
   * never steps over jobs it keeps. Listings merge the two (`done-order.ts`).
   */
  doneNoResult: HandleIndex;
  /** Kept done jobs holding a result, in completion order (`at` = completedAt). */
  doneWithResult: HandleIndex;
  /** Retention order (`at` = failedAt). */
  deadByTime: HandleIndex;
  /** Listing order (by id, see `jobs-by-id.ts`). */
  deadById: JobsById;
  /** dedupKey → the pending or scheduled job holding it. */
  readonly dedup = new Map<string, number>();
  /** Cumulative acks. */
  doneCount = 0;
  /** Paused by `pauseQueue`: claims hand out nothing until it is resumed. */
  paused = false;
  /**
   * Whether a job was ever enqueued to it: `listQueues` lists only such
   * queues. `false` for a queue only `pauseQueue` named so far (its pause is
   * kept, and holds once jobs arrive).
   */
  heldJob = false;
  /**
   * The fair groups of its pending and claimed jobs, once it held a job with
   * a `groupKey` (derived: rebuilt by a restore, not stored); `null` before.
   */
  groups: QueueGroups | null = null;

  constructor(
    /** Position in `State.queueList`: what the table's queue column holds. */
    readonly index: number,
    readonly name: string,
    orders: Orders,
    indexes?: QueueIndexes,
  ) {
    this.pending = indexes?.pending ?? new HandleIndex(orders.byPriority);
    this.scheduled = indexes?.scheduled ?? new HandleIndex(orders.byTime);
    this.claimed = indexes?.claimed ?? new JobsById(orders);
    this.doneNoResult = indexes?.doneNoResult ?? new HandleIndex(orders.byTime);
    this.doneWithResult = indexes?.doneWithResult ?? new HandleIndex(orders.byTime);
    this.deadByTime = indexes?.deadByTime ?? new HandleIndex(orders.byTime);
    this.deadById = indexes?.deadById ?? new JobsById(orders);
  }

  /** Kept done jobs, with a result or without. */
  get doneKept(): number {
    return this.doneNoResult.size + this.doneWithResult.size;
  }
}
