/**
 * The schedules of the public `Queue` API: `schedule`, `unschedule` and
 * `listSchedules`. A class of `Queue`'s chain (`Queue` extends it, it
 * extends `QueueManagement`), so these methods and their TSDoc stay on
 * `Queue`. Each method delegates in one line to `schedules/api.ts`.
 */
import type { QueueCore } from "./core.js";
import { QueueManagement } from "./queue-management.js";
import { notReceiver } from "./receiver.js";
import { listSchedulesOf, removeSchedule, setSchedule } from "./schedules/api.js";
import type { ScheduleInfo, ScheduleSpec } from "./schedules/types.js";

/** The durable schedules of a `Queue` (see `Queue`). */
export class QueueSchedules extends QueueManagement {
  /**
   * The core of `receiver` (the `this` of a method); a `TypeError` saying how
   * to call the method when it is not a queue (a detached `schedule`).
   */
  static #coreOf(receiver: unknown): QueueCore {
    if (typeof receiver === "object" && receiver !== null && #core in receiver)
      return receiver.#core;
    throw notReceiver("Queue", receiver);
  }

  /** This queue's core, handed down by `Queue`'s constructor. */
  readonly #core: QueueCore;

  /** Only `Queue` constructs this, with its core (`never`: see `QueueData`'s constructor). */
  protected constructor(core: never) {
    super(core);
    this.#core = core;
  }

  /**
   * Create or replace the durable schedule `name`: at every fire time of
   * `spec.cron` (in `spec.timezone`) or every `spec.everyMs`, enqueue
   * `spec.payload` into `spec.queue`. Resolves once it is durable.
   *
   * Exactly one job per fire time: a fire is one log record that enqueues the
   * job and marks the time as fired, so restarts, takeovers and wall-clock
   * steps never fire a time twice, and every fire time that comes while a
   * process owns the store fires. Times missed while none did follow
   * `spec.catchUp` (`"all"` fires at most the newest 1 000 of them).
   * Replacing a schedule fires the times it owes first (not those other
   * schedules owe, which may then be enqueued after them: no fire order
   * across schedules is promised) and keeps the times it fired accounted
   * for; setting one again exactly as it is changes and writes nothing (so an
   * application may declare its schedules at every start without restarting
   * an `everyMs` count). A bad cron expression (one no date matches, such as
   * `0 0 30 2 *`, included, and one whose every time falls in a
   * daylight-saving gap of its time zone, which croner skips) or time zone,
   * both or neither of `cron` and
   * `everyMs`, or `endAt` ≤ `startAt` reject with `InvalidArgumentError`
   * naming the field, and nothing is stored. Calls of `schedule` and
   * `unschedule` on this queue land in the order they were made (each waits
   * for the one before it to be written). Calls made before `close()` are
   * written (the close waits for them); calls made after it reject with
   * `ClosedError`.
   *
   * @example
   * ```ts
   * await queue.schedule("nightly-report", {
   *   cron: "0 3 * * *", timezone: "Europe/Paris", queue: "reports", payload: "{}",
   * });
   * ```
   */
  schedule(name: string, spec: ScheduleSpec): Promise<void> {
    return setSchedule(QueueSchedules.#coreOf(this), name, spec);
  }

  /**
   * Remove schedule `name` (durably): `true`, or `false` when there was none
   * (once every write made before the call is durable: an earlier removal
   * may still be in flight).
   * Its fire times that came due before the removal is written fire first (a
   * timer running late does not lose them; nor do times that come due while
   * the call waits for the calls made before it); none after it. Fires other
   * schedules owe are not waited for, so they may be enqueued after the
   * removed schedule's later ones: no fire order across schedules is promised.
   */
  unschedule(name: string): Promise<boolean> {
    return removeSchedule(QueueSchedules.#coreOf(this), name);
  }

  /** Every schedule, by name, with its next fire time (`nextRunAt`, `null` when it ended). */
  listSchedules(): Promise<ScheduleInfo[]> {
    return listSchedulesOf(QueueSchedules.#coreOf(this));
  }
}
