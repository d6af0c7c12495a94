/**
 * The queue's two timers: the scheduler (promotes due scheduled jobs) and the
 * reaper (expires leases, runs retention sweeps). Owns when they fire, not
 * what they do: the queue passes the passes to run.
 *
 * Scheduler, a precise timer to the next `runAt` (never a fixed poll):
 *
 *     idle ──scheduleAt(t)──▶ armed(d), d = min(t, now + schedulerIntervalMs)
 *     armed(d) ──scheduleAt(t) giving d' < d──▶ armed(d')   (a later d' changes nothing)
 *     armed(d) ──clock reaches d──▶ idle, then promote()    (which calls scheduleAt
 *                                                           for the next runAt, if any)
 *
 * Reaper, periodic:
 *
 *     armed(now + reaperIntervalMs) ──fires──▶ reap(), armed again
 *
 * Both: `stop()` from any state ──▶ stopped, for good (no timer fires or arms
 * again). Timers follow the injected clock and never keep the process alive.
 */
import { type Clock, createTimer, type TimerHandle } from "../clock.js";

/** The passes the timers run. */
export interface TimerPasses {
  promote(): void;
  reap(): void;
}

export class QueueTimers {
  readonly #clock: Clock;
  readonly #schedulerIntervalMs: number;
  readonly #reaperIntervalMs: number;
  readonly #passes: TimerPasses;
  #stopped = false;
  #scheduler: TimerHandle | null = null;
  /** Deadline of the armed scheduler timer; +∞ while idle. */
  #schedulerDeadline = Number.POSITIVE_INFINITY;
  #reaper: TimerHandle | null = null;

  constructor(
    clock: Clock,
    intervals: { schedulerIntervalMs: number; reaperIntervalMs: number },
    passes: TimerPasses,
  ) {
    this.#clock = clock;
    this.#schedulerIntervalMs = intervals.schedulerIntervalMs;
    this.#reaperIntervalMs = intervals.reaperIntervalMs;
    this.#passes = passes;
  }

  /** Starts the reaper's period. */
  start(): void {
    this.#armReaper();
  }

  /** Makes sure the scheduler runs by `runAt` (and within one scheduler interval). */
  scheduleAt(runAt: number): void {
    if (this.#stopped) return;
    const deadline = Math.min(runAt, this.#now() + this.#schedulerIntervalMs);
    if (deadline >= this.#schedulerDeadline) return;
    this.#scheduler?.cancel();
    this.#schedulerDeadline = deadline;
    this.#scheduler = createTimer(this.#clock, deadline, () => {
      this.#scheduler = null;
      this.#schedulerDeadline = Number.POSITIVE_INFINITY;
      if (!this.#stopped) this.#passes.promote();
    });
  }

  /** Cancels both timers for good. */
  stop(): void {
    this.#stopped = true;
    this.#scheduler?.cancel();
    this.#scheduler = null;
    this.#schedulerDeadline = Number.POSITIVE_INFINITY;
    this.#reaper?.cancel();
    this.#reaper = null;
  }

  #armReaper(): void {
    if (this.#stopped) return;
    this.#reaper = createTimer(this.#clock, this.#now() + this.#reaperIntervalMs, () => {
      this.#reaper = null;
      if (this.#stopped) return;
      this.#passes.reap();
      this.#armReaper();
    });
  }

  #now(): number {
    return Math.floor(this.#clock.now());
  }
}
