/**
 * A queue's `schedule`/`unschedule` calls in the order they were made, and
 * `close()`'s wait for those made before it.
 */
import { ClosedError } from "../../errors.js";

/**
 * The `schedule`/`unschedule` calls of one queue that have not written their
 * record yet. A call waits for the one before it to have written its record
 * (or failed), so calls land in the log in the order they were made,
 * whatever each waits for (the log to be writable, the fire times owed
 * before it). Only the writes are ordered: the durability waits after them
 * overlap, so calls made together still share one flush.
 */
export class ScheduleCalls {
  /** Settles once the last call waiting has written its record, or failed. */
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  /** `close()` was called: calls made from now on are refused. */
  #closing = false;

  /** Throws `ClosedError` once `close()` was called. */
  checkNotClosing(): void {
    if (this.#closing) throw new ClosedError("queue is closed");
  }

  /**
   * Runs `write` once every earlier call has written its record or failed
   * (at once when none is waiting: no extra turn); a failed call holds up no
   * later one. `write` resolves to what the call then waits for.
   */
  inOrder<T>(write: () => Promise<() => Promise<T>>): Promise<T> {
    const written = this.#waiting === 0 ? write() : this.#tail.then(write);
    this.#waiting++;
    const done = (): void => {
      this.#waiting--;
    };
    this.#tail = written.then(done, done);
    return written.then((rest) => rest());
  }

  /**
   * For `Queue.close()`: refuses later calls, and returns what resolves (never
   * rejects) once every call made before has written its record or failed, or
   * `undefined` when none is waiting (the close goes on in the same turn).
   * Those calls wait only for what the close waits for anyway (the log to
   * take appends, which its flush needs too; the fire times owed, which the
   * close fires too), and for their write, not its durability.
   */
  closing(): Promise<void> | undefined {
    this.#closing = true;
    return this.#waiting === 0 ? undefined : this.#tail;
  }
}
