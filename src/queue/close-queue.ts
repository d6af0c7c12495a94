/**
 * `Queue.close()`'s first steps, before the queue counts as closed, and how a
 * worker learns that a close began: from the call on, a `runWorker` starts
 * no handler and claims nothing, while the close still lets earlier
 * `schedule`/`unschedule` calls write and makes the fires already due. The
 * claims it holds ready then are given back by the close itself (pending
 * again, their attempts not counted: see `Lease.heldReady`).
 */
import type { QueueCore } from "./core.js";

/** Registry key of the getter on `Queue.prototype` that {@link queueClosing} reads. */
export const QUEUE_CLOSING = Symbol.for("taquba.queueClosing");

/**
 * Whether `close()` was called on `queue` (or it closed or failed); `false`
 * for a queue of a build without the getter (its worker then learns of the
 * close once the queue counts as closed).
 */
export function queueClosing(queue: object): boolean {
  return (queue as Record<symbol, unknown>)[QUEUE_CLOSING] === true;
}

/** `Queue.close()`: see there. */
export async function closeQueue(core: QueueCore): Promise<void> {
  core.beginClose();
  // A fire due while this process owns the store is this process's to make:
  // the next owner's catch-up counts whatever it finds unfired as missed
  // before it took the store (and `catchUp: "none"` skips it).
  try {
    // `schedule` and `unschedule` calls made before this one write first (even
    // when queued behind one another); any made after it are refused.
    const written = core.schedules.calls.closing();
    if (written !== undefined) await written;
    if (!core.closed) await core.schedules.fireDueNow();
  } finally {
    await core.close();
  }
}
