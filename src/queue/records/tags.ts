/**
 * The number each log record is stored under. Numbers are never renumbered
 * or reused: a log written by any earlier release reads back the same.
 */

/**
 * The queue's log records. Each carries the outcome already decided on the
 * live path (times, retry-or-dead, keep-or-delete), so replaying them never
 * consults configuration or the clock.
 */
export const Tag = {
  Enqueue: 1,
  Claim: 2,
  Ack: 3,
  Retry: 4,
  Dead: 5,
  Promote: 6,
  Cancel: 7,
  CancelRequest: 8,
  RequeueDead: 9,
  SweepDone: 10,
  SweepDead: 11,
  Release: 12,
  PromoteSome: 13,
  SweepDoneSome: 14,
  SweepDeadSome: 15,
  /**
   * Up to `limit` kept done jobs of a queue that hold no result and completed
   * before `before`, oldest first, are deleted (done jobs holding a result
   * are left alone: they are kept for at least `resultRetentionMs`).
   * `SweepDoneSome` deletes done jobs of both kinds.
   */
  SweepDoneNoResultSome: 38,
  Wake: 16,
  PauseQueue: 17,
  Remove: 18,
  /**
   * A Dead record that carries progress (written under this tag so records
   * without it keep their earlier encoding; decoded as `Dead`).
   */
  DeadWithProgress: 19,
  /**
   * A Dead record whose last attempt ended by a lease expiry, an
   * interruption or a time-out (its `cause`, for the attempt history), with
   * its progress if any; decoded as `Dead`.
   */
  DeadWithCause: 35,
  /**
   * A Cancel record that carries its time (`at`): the cancelled job leaves a
   * tombstone (`cancelled.ts`) that `waitForCompletion` and `attemptHistory`
   * read. Decoded as `Cancel`; one under the plain tag (earlier releases)
   * removes the job without a tombstone.
   */
  CancelAt: 36,
  /**
   * A Cancel record with its time and the error of the attempt it ended (a
   * nack, time-out or lease expiry of a job whose cancellation was requested),
   * kept in the tombstone's attempt history. Decoded as `Cancel`.
   */
  CancelWithError: 39,
  /** Up to `limit` tombstones of cancelled jobs of a queue from before `before`, oldest first, are dropped. */
  SweepCancelledSome: 37,
  ScheduleSet: 28,
  Unschedule: 29,
  ScheduleFire: 30,
  Replace: 31,
  KvPut: 21,
  KvDelete: 22,
  Transaction: 23,
} as const;
