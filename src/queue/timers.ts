/**
 * The queue's two timers: the scheduler (promotes due scheduled jobs) and the
 * reaper (expires leases, runs retention sweeps). Owns when they fire, not
 * what they do: the queue passes the passes to run.
 *
 * Both run on monotonic time, so a step of the wall clock neither stalls nor
 * rushes them. The scheduler aims at wall-time targets (`runAt`): it converts
 * the wall delay into a monotonic deadline and is never armed further than
 * one scheduler interval ahead, so a wall step in either direction is noticed
 * within that interval (the pass re-checks wall time when it fires, and
 * re-arms for what is left).
 *
 * Scheduler, a precise timer to the next `runAt` (never a fixed poll):
 *
 *     idle ──scheduleAt(t)──▶ armed(d), d = monoNow + min(t − wallNow, schedulerIntervalMs)
 *     armed(d) ──scheduleAt(t) giving d' < d──▶ armed(d')   (a later d' changes nothing)
 *     armed(d) ──monotonic clock reaches d──▶ idle, then promote()   (which calls
 *                                             scheduleAt for the next runAt, if any)
 *
 * Reaper, periodic:
 *
 *     armed(monoNow + reaperIntervalMs) ──fires──▶ reap(), armed again
 *
 * Both: `stop()` from any state ──▶ stopped, for good (no timer fires or arms
 * again). Timers follow the injected clock and never keep the process alive.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";

/** The passes the timers run. */
export interface TimerPasses {
  promote(): void;
  reap(): void;
}

export class QueueTimers {
  readonly #clock: MonotonicClock;
  readonly #schedulerIntervalMs: number;
  readonly #reaperIntervalMs: number;
  readonly #passes: TimerPasses;
  #stopped = false;
  #scheduler: TimerHandle | null = null;
  /** Monotonic deadline of the armed scheduler timer; +∞ while idle. */
  #schedulerDeadline = Number.POSITIVE_INFINITY;
  #reaper: TimerHandle | null = null;

  constructor(
    clock: MonotonicClock,
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

  /** Makes sure the scheduler runs by wall time `runAt` (and within one scheduler interval). */
  scheduleAt(runAt: number): void {
    if (this.#stopped) return;
    const delay = Math.max(0, Math.min(runAt - this.#clock.now(), this.#schedulerIntervalMs));
    const deadline = this.#clock.monotonicNow() + delay;
    if (deadline >= this.#schedulerDeadline) return;
    this.#scheduler?.cancel();
    this.#schedulerDeadline = deadline;
    this.#scheduler = startTimer(this.#clock, delay, () => {
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
    this.#reaper = startTimer(this.#clock, this.#reaperIntervalMs, () => {
      this.#reaper = null;
      if (this.#stopped) return;
      this.#passes.reap();
      this.#armReaper();
    });
  }
}
