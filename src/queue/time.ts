/**
 * Reading the queue's clock. Wall time is what jobs store (`enqueuedAt`,
 * `runAt`, `claimedAt`, …), so a reading is checked before it can reach a
 * record: a clock before 1970 or past the storable range fails clearly
 * instead of being stored as some other time. The worker's timers run on
 * the queue's own timer clock ({@link timerClockOf}).
 */
import { type Clock, type MonotonicClock, withMonotonic } from "../clock.js";
import { describeValue, invalidArgumentGot } from "../validate.js";
import { MAX_TIMESTAMP_MS } from "./validate.js";

/**
 * The wall time of `clock` in whole milliseconds since the UNIX epoch.
 * Throws `InvalidArgumentError` when the reading is not a time from 1970 up
 * to {@link MAX_TIMESTAMP_MS}.
 */
export function wallTime(clock: Clock): number {
  const reading = clock.now();
  const ms = Math.floor(reading);
  if (!(ms >= 0 && ms <= MAX_TIMESTAMP_MS))
    throw invalidArgumentGot(
      "options.clock.now()",
      `a time in epoch milliseconds from 0 (1970) to ${MAX_TIMESTAMP_MS}; fix the clock`,
      describeValue(reading),
    );
  return ms;
}

/**
 * Registry key of the hook on `Queue.prototype` that {@link timerClockOf}
 * reads: the clock the queue's timers run on.
 */
export const TIMER_CLOCK = Symbol.for("taquba.timerClock");

/**
 * The clock `queue`'s timers run on (its clock with a monotonic reading, re-read
 * every `schedulerIntervalMs` when timers cannot see it move): the worker's
 * timers run on it too, and measure what the queue measures.
 */
export function timerClockOf(queue: { readonly clock: Clock }): MonotonicClock {
  const timed = (queue as { [TIMER_CLOCK]?: MonotonicClock })[TIMER_CLOCK];
  return timed ?? withMonotonic(queue.clock);
}

/**
 * The wall time a lease ends, as reported (`leaseExpiresAt`): `expiresAt`,
 * or {@link MAX_TIMESTAMP_MS} for a lease that runs past the end of the
 * `Date` range, as a nack's backoff is. A lease is never stored, so its
 * length is not refused the way a stored time past the range is: a queue's
 * `leaseMs` may be `Number.MAX_SAFE_INTEGER` for "as good as never", and
 * only the reported end is cut to a time a `Date` can hold.
 */
export function leaseEndOf(expiresAt: number): number {
  return Math.min(expiresAt, MAX_TIMESTAMP_MS);
}
