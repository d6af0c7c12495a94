/**
 * The shapes of durable schedules: what a caller passes to `Queue.schedule`
 * ({@link ScheduleSpec}), what `listSchedules` returns ({@link ScheduleInfo}),
 * and the schedule as the state keeps it ({@link Schedule}).
 */
import type { EnqueueOptions } from "../options.js";
import type { Payload } from "../types.js";

/**
 * What a schedule does with the fire times a process finds unfired when it
 * takes the store: `"none"` skips them, `"latest"` fires the newest one, and
 * `"all"` fires each of them, but at most the newest 1 000: older ones are
 * skipped, with a warning in the log (see `ScheduleSpec.catchUp`).
 */
export type CatchUp = "none" | "latest" | "all";

/** Catch-up policies as stored; never renumber one. */
export const CATCH_UPS: readonly CatchUp[] = ["none", "latest", "all"];

/**
 * A durable schedule: enqueue `payload` into `queue` at every fire time of
 * `cron` (in `timezone`) or every `everyMs`.
 */
export interface ScheduleSpec {
  /**
   * A cron expression (5 fields, or 6 with seconds first), as the `croner`
   * package reads it, evaluated in `timezone`; any other number of fields
   * (such as croner's optional seventh, the year) is an `InvalidArgumentError`,
   * as is an expression no date matches (`0 0 30 2 *`: it would never fire),
   * or one that never fires in `timezone` (from now on, every time it matches
   * falls in a daylight-saving gap, which croner skips unless seconds, minutes
   * and hours each hold one value and the gap ends on the same day:
   * `15,45 2 31 3 +0` in Europe/Berlin, `30 23 24-30 3 +6` in America/Nuuk).
   * Exactly one of `cron` and `everyMs`.
   * @default none
   * @example { cron: "0 3 * * *", timezone: "Europe/Paris" }
   */
  cron?: string;
  /**
   * Fire every this many milliseconds (a positive integer), counted from
   * `startAt` or else from when the schedule was set (which does not fire;
   * setting the same spec again keeps that count, a changed spec starts a new
   * one). `startAt` fires itself when it is after the time the schedule is
   * set; one at or before that time still sets the count, and its first fire
   * is the next one after the set time. Exactly one of `cron` and `everyMs`.
   * @default none
   * @example { everyMs: 15 * 60_000 }
   */
  everyMs?: number;
  /**
   * IANA time zone `cron` is read in (`"Europe/Paris"`); daylight-saving
   * changes follow croner: a wall time skipped by a spring-forward runs at the
   * end of the gap for fixed-time expressions and is skipped for interval ones;
   * a wall time that occurs twice runs once for fixed-time expressions, twice
   * for interval ones.
   * @default "UTC"
   * @example { timezone: "America/New_York" }
   */
  timezone?: string;
  /**
   * The queue each fire enqueues into.
   * @example { queue: "reports" }
   */
  queue: string;
  /**
   * The payload of every job the schedule enqueues: at most the
   * `payloadOffloadBytes` open option (`Queue.open`, for the whole store;
   * default 256 KiB; `maxPayloadBytes` when that is `null`), as it is kept
   * inline, in the schedule and in each fire's job,
   * never offloaded. A larger one is an `InvalidArgumentError` naming
   * `spec.payload`, and nothing is stored. For work on a large input, store
   * the input elsewhere and put where it is in the payload.
   * @example { payload: JSON.stringify({ report: "daily" }) }
   */
  payload: Payload;
  /**
   * Options of every job the schedule enqueues (not `runAt` or `jobId`; a
   * `delayMs` runs each job that long after its fire). A fire whose
   * `dedupKey` is held by a waiting job enqueues nothing.
   * @default {}
   * @example { options: { dedupKey: "daily-report", maxAttempts: 3 } }
   */
  options?: EnqueueOptions;
  /**
   * No fire before this time (epoch ms). Fire times are after the time the
   * schedule is set: a `startAt` after it is a fire time itself (of an
   * `everyMs` schedule, or of a cron one whose expression matches it); a
   * `startAt` at or before it (`Date.now()` when the call is made, say) does
   * not fire, and the first fire is the next fire time after the set time.
   * @default when the schedule is set
   * @example { startAt: Date.parse("2030-01-01T00:00:00Z") }
   */
  startAt?: number;
  /**
   * No fire at or after this time (epoch ms); must be after `startAt`.
   * @default none (fires forever)
   * @example { endAt: Date.parse("2030-12-31T00:00:00Z") }
   */
  endAt?: number;
  /**
   * Fire times after the last recorded fire, up to the moment the opening
   * process took the store: those missed while no process owned it (it was
   * closed, or being taken over), and those a previous owner still holding
   * it had not fired (it was frozen or stalled; a taker cannot tell it from a
   * crashed one). `"latest"` fires the last one missed, `"all"` every one
   * but at most the newest 1 000 (older ones are skipped, with a warning in
   * the log: a day's downtime of an `everyMs: 1_000` schedule enqueues 1 000
   * jobs, not 86 400), `"none"` skips them. Fire times that come due once
   * a process owns the store (from when it took it, after reading and
   * verifying the checkpoint and the WAL; a stalled event loop it keeps the
   * store through; a wall-clock step forward) always all fire.
   * @default "latest"
   * @example { catchUp: "none" }
   */
  catchUp?: CatchUp;
}

/** Every key of {@link ScheduleSpec}: `schedule` warns of others (a misspelt `timeZone` would fire in UTC). */
export const SCHEDULE_SPEC_KEYS: readonly string[] = Object.keys({
  cron: true,
  everyMs: true,
  timezone: true,
  queue: true,
  payload: true,
  options: true,
  startAt: true,
  endAt: true,
  catchUp: true,
} satisfies Record<keyof ScheduleSpec, true>);

/** A schedule as `listSchedules` reports it. */
export interface ScheduleInfo {
  /** The name it was set under. */
  name: string;
  /** Its cron expression (a cron schedule). */
  cron?: string;
  /** Its interval in milliseconds (an interval schedule). */
  everyMs?: number;
  /** The IANA time zone `cron` is read in. */
  timezone: string;
  /** The queue each fire enqueues into. */
  queue: string;
  /** The payload of every job it enqueues. */
  payload: Uint8Array;
  /**
   * As set. A schedule stored before an empty `dedupKey` was refused shows
   * `{ dedupKey: "" }` (it still fires, deduplicated on `""`); to pass such
   * options back to `schedule`, leave `dedupKey` out or give it a name.
   */
  options?: EnqueueOptions;
  /** No fire before this time (epoch ms), as set. */
  startAt?: number;
  /** No fire at or after this time (epoch ms), as set. */
  endAt?: number;
  /** What it does with fire times missed while no process owned the store. */
  catchUp: CatchUp;
  /** The next fire time (epoch ms), or `null` when it will not fire again (past `endAt`). */
  nextRunAt: number | null;
  /** The newest fire time accounted for (fired, or skipped by `catchUp`), or when it was set. */
  firedUpTo: number;
  /**
   * Set when this process cannot compute the schedule's fire times: its time
   * zone or cron expression is unknown to this runtime (a store written by a
   * host with newer time-zone data). `nextRunAt` is then `null`. Absent otherwise.
   */
  error?: string;
}

/** A schedule's definition as written by a `ScheduleSet` record. */
export interface ScheduleDefinition {
  readonly name: string;
  /** Exactly one of `cron` and `everyMs` is set. */
  readonly cron: string | undefined;
  readonly everyMs: number | undefined;
  readonly timezone: string;
  readonly queue: string;
  readonly payload: Uint8Array;
  /** The job options as JSON (as given, checked), or `undefined` for none. */
  readonly options: string | undefined;
  readonly startAt: number | undefined;
  readonly endAt: number | undefined;
  readonly catchUp: CatchUp;
  /** When it was set (created or replaced): `everyMs` counts from here without `startAt`. */
  readonly setAt: number;
}

/** A schedule as the state keeps it (immutable: `apply` replaces the object). */
export interface Schedule extends ScheduleDefinition {
  /**
   * Fire times up to this one are accounted for: fired, or skipped by a
   * catch-up. A fire is only ever at a later time, so no time fires twice.
   */
  readonly firedUpTo: number;
}

/**
 * `T` with every key required (an optional one keeps its type, `undefined`
 * included): a literal of this type must name each key, so a key added to `T`
 * later is a compile error where the literal leaves it out, not silently lost.
 */
type EveryKey<T> = { readonly [K in keyof Required<T>]: T[K] };

/**
 * The schedule the state keeps for `definition`, its fires accounted for up
 * to `firedUpTo`: one object literal, so every schedule shares one object
 * shape. On Node 20 a spread followed by a new property gave each object a
 * shape of its own, and every read of their fields a megamorphic lookup; on
 * Node 22 the spread already gave them one shape, so the gain is on Node 20.
 * The literal names every key of `Schedule` (see `EveryKey`).
 */
export function storedSchedule(d: ScheduleDefinition, firedUpTo: number): Schedule {
  const stored: EveryKey<Schedule> = {
    name: d.name,
    cron: d.cron,
    everyMs: d.everyMs,
    timezone: d.timezone,
    queue: d.queue,
    payload: d.payload,
    options: d.options,
    startAt: d.startAt,
    endAt: d.endAt,
    catchUp: d.catchUp,
    setAt: d.setAt,
    firedUpTo,
  };
  return stored;
}

/**
 * What a listing found for one stored schedule's next fire time: the time
 * (`null`: none), or the error that computing it threw.
 */
export type StoredNextFire = { next: number | null } | { error: unknown };
