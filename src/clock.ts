/**
 * Time: the injectable `Clock` (wall time plus an optional monotonic
 * reading), the system clock, the `ManualClock` tests drive by hand, and the
 * one-shot timers that follow any of them.
 *
 * Two kinds of time. Wall time (`now()`, ms since the UNIX epoch) is for what
 * users see and what is stored: `runAt`, timestamps, retention cut-offs.
 * Monotonic time (`monotonicNow()`, arbitrary origin, never goes back) is for
 * every interval this process measures: group-commit windows, retry backoff,
 * epoch checks, checkpoint intervals, leases and timers. A step of the wall
 * clock then moves no timer and stalls no write.
 *
 * Timers know when two clocks move: the system clock only as real time
 * passes (one real timer per delay), a `ManualClock` on `advance()`. Any
 * other clock may jump without a word, so a timer on it re-reads it every
 * {@link withMonotonic | recheck interval} of real time.
 */

import { unrefTimer } from "./util/timers.js";
import { invalidArgument } from "./validate.js";

/**
 * Source of time. Injected everywhere time is read.
 *
 * A clock without `monotonicNow` still works: taquba then derives monotonic
 * time from `now()` by adding up only its forward movements, so a wall step
 * back stalls nothing, and a step forward, which cannot be told from time
 * passing, counts as time passing.
 *
 * taquba sees the system clock and a `ManualClock` move: a timer on them
 * wakes only when due. Any other clock (with `monotonicNow` or without) may
 * move without a word, so while a timer waits on it, taquba re-reads it every
 * `schedulerIntervalMs` of real time (every second for the log's own timers
 * under `log.clock`): the schedules, delayed jobs, rate-limited claims, claim
 * waits and job timeouts a step forward makes due go ahead within that
 * interval, and the leases it ends expire at the reaper's next pass.
 */
export interface Clock {
  /** Wall time: milliseconds since the UNIX epoch. */
  now(): number;
  /** Monotonic time in milliseconds from an arbitrary origin; never goes back. */
  monotonicNow?(): number;
}

/** A clock that has both readings. */
export interface MonotonicClock extends Clock {
  monotonicNow(): number;
}

/**
 * Marks a `ManualClock` of either build of the package (ESM or CommonJS): a
 * test may hand one build's clock to the other build's queue, and
 * `instanceof` does not recognise it there.
 */
const MANUAL_CLOCK = Symbol.for("taquba.manualClock");

/** Marks the system clock of either build, as {@link MANUAL_CLOCK} marks a `ManualClock`. */
const SYSTEM_CLOCK = Symbol.for("taquba.systemClock");

/**
 * How often (ms of real time) a timer re-reads a clock it cannot see move,
 * on a clock given none by {@link withMonotonic}. A registry key, so one
 * build's timers read what the other build's queue set.
 */
const RECHECK_MS = Symbol.for("taquba.clockRecheckMs");

/** Re-reading of a clock that was given no recheck interval: the default `schedulerIntervalMs`. */
export const DEFAULT_RECHECK_MS = 1_000;

/** Longest delay `setTimeout` takes (about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The real clock: `Date.now()` for wall time, `performance.now()` for monotonic time. */
export const systemClock: MonotonicClock = Object.defineProperty(
  { now: () => Date.now(), monotonicNow: () => performance.now() },
  SYSTEM_CLOCK,
  { value: true },
);

/** A clock whose timers move only on `advance()`: a {@link ManualClock} of either build. */
interface AdvancedByHand extends MonotonicClock {
  onAdvance(listener: () => void): () => void;
}

function isManualClock(clock: Clock): clock is AdvancedByHand {
  return (clock as { [MANUAL_CLOCK]?: unknown })[MANUAL_CLOCK] === true;
}

function isSystemClock(clock: Clock): boolean {
  return clock === systemClock || (clock as { [SYSTEM_CLOCK]?: unknown })[SYSTEM_CLOCK] === true;
}

/**
 * `clock` with a monotonic reading: `clock` itself when it has
 * `monotonicNow` (and no `recheckMs` is asked for, or it is the system clock
 * or a `ManualClock`, which timers see move); otherwise a clock that reads
 * `clock`, and whose monotonic reading, when `clock` has none, adds up the
 * forward movements of `clock.now()` (a step back counts as no time passing).
 * `recheckMs` sets how often (real ms) timers on the result re-read a clock
 * they cannot see move ({@link DEFAULT_RECHECK_MS} when not given). Each call
 * makes an independent reading.
 */
export function withMonotonic(clock: Clock, recheckMs?: number): MonotonicClock {
  const hasMonotonic = typeof clock.monotonicNow === "function";
  if (hasMonotonic && (recheckMs === undefined || isSystemClock(clock) || isManualClock(clock)))
    return clock as MonotonicClock;
  const timed: MonotonicClock = {
    now: () => clock.now(),
    monotonicNow: hasMonotonic ? () => clock.monotonicNow!() : forwardMovements(clock),
  };
  if (recheckMs !== undefined) Object.defineProperty(timed, RECHECK_MS, { value: recheckMs });
  return timed;
}

/** A monotonic reading that adds up the forward movements of `clock.now()`. */
function forwardMovements(clock: Clock): () => number {
  let lastWall = clock.now();
  let elapsed = 0;
  return () => {
    const wall = clock.now();
    if (wall > lastWall) elapsed += wall - lastWall;
    lastWall = wall;
    return elapsed;
  };
}

/** How often (real ms) a timer re-reads `clock`, which it cannot see move. */
function recheckMsOf(clock: Clock): number {
  const ms = (clock as { [RECHECK_MS]?: unknown })[RECHECK_MS];
  return typeof ms === "number" && ms > 0 ? ms : DEFAULT_RECHECK_MS;
}

/**
 * A clock that only moves when told to. Timers scheduled by taquba against a
 * `ManualClock` fire when `advance()` passes their deadline, so tests advance
 * time instead of sleeping. `stepWall()`, or `advance()` with a negative
 * step, moves the wall reading alone, as a clock step (NTP, a VM resume, an
 * operator) would.
 */
export class ManualClock implements MonotonicClock {
  static {
    Object.defineProperty(ManualClock.prototype, MANUAL_CLOCK, { value: true });
  }

  #wallMs: number;
  #monotonicMs = 0;
  readonly #listeners = new Set<() => void>();

  /** @param startMs the starting wall time (a finite number of epoch milliseconds). */
  constructor(startMs = 1_700_000_000_000) {
    if (typeof startMs !== "number" || !Number.isFinite(startMs))
      throw invalidArgument("startMs", "a finite number of epoch milliseconds", startMs);
    this.#wallMs = startMs;
  }

  now(): number {
    return this.#wallMs;
  }

  /** Starts at 0 and moves only with {@link advance}. */
  monotonicNow(): number {
    return this.#monotonicMs;
  }

  /**
   * Move time by `ms`. Forward (`ms` ≥ 0): both readings move and waiting
   * timers whose delay has passed fire. Back (`ms` < 0): the wall reading
   * steps back, as {@link stepWall} does, and monotonic time, which never
   * goes back, stays where it is, so no timer moves or fires. That is a wall
   * clock set back (NTP, a VM resume, an operator): schedules do not fire a
   * time twice, and timers keep their order.
   *
   * @example
   * ```ts
   * const clock = new ManualClock(Date.parse("2027-01-01T00:00:00Z"));
   * clock.advance(60_000); // one minute passes: due timers and schedules fire
   * clock.advance(-30 * 60_000); // the wall clock is set back 30 minutes
   * clock.now() === Date.parse("2026-12-31T23:31:00Z"); // true
   * clock.monotonicNow() === 60_000; // true: monotonic time did not go back
   * ```
   */
  advance(ms: number): void {
    if (typeof ms !== "number" || !Number.isFinite(ms))
      throw invalidArgument("ms", "a finite number of milliseconds", ms);
    if (ms < 0) {
      this.stepWall(ms);
      return;
    }
    this.#wallMs += ms;
    this.#monotonicMs += ms;
    for (const listener of [...this.#listeners]) listener();
  }

  /**
   * Step the wall reading by `ms` (positive or negative) without time passing:
   * monotonic time and therefore every timer stay where they are.
   */
  stepWall(ms: number): void {
    if (typeof ms !== "number" || !Number.isFinite(ms))
      throw invalidArgument("ms", "a finite number of milliseconds", ms);
    this.#wallMs += ms;
  }

  /**
   * Set the absolute wall time to `ms`, as {@link advance} by the difference
   * does. Later: time passes to get there (both readings move, due timers
   * fire). Earlier: the wall clock is set back, as `advance(negative)` does,
   * and monotonic time, which never goes back, stays, so no timer moves or
   * fires.
   *
   * @example
   * ```ts
   * const clock = new ManualClock(Date.parse("2027-01-01T00:00:00Z"));
   * clock.set(Date.parse("2027-01-01T01:00:00Z")); // an hour passes
   * clock.set(Date.parse("2027-01-01T00:30:00Z")); // the wall clock is set back 30 minutes
   * clock.monotonicNow() === 3_600_000; // true: monotonic time did not go back
   * ```
   */
  set(ms: number): void {
    if (typeof ms !== "number" || !Number.isFinite(ms))
      throw invalidArgument("ms", "a finite number of epoch milliseconds", ms);
    this.advance(ms - this.#wallMs);
  }

  /** @internal Called on every advance; used by the timers of this module. */
  onAdvance(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** A cancellable one-shot timer that follows the given clock. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Run `fn` once `delayMs` of monotonic time has passed. With the system clock
 * this is one real (unref'd) timer; with a {@link ManualClock} it fires on
 * `advance()`; with any other clock, which may jump without a word, one real
 * timer shared by all the clock's timers re-reads it every recheck interval
 * (see {@link withMonotonic}), or sooner for a nearer deadline, and fires
 * those then due. Timers never keep the process alive.
 */
export function startTimer(clock: Clock, delayMs: number, fn: () => void): TimerHandle {
  const timed = withMonotonic(clock);
  const deadline = timed.monotonicNow() + Math.max(0, delayMs);
  if (isManualClock(clock)) {
    let done = false;
    const check = (): void => {
      if (done || clock.monotonicNow() < deadline) return;
      done = true;
      unsubscribe();
      fn();
    };
    const unsubscribe = clock.onAdvance(check);
    // Due already: fire asynchronously, as a real timer would.
    queueMicrotask(check);
    return {
      cancel() {
        done = true;
        unsubscribe();
      },
    };
  }
  // A clock taquba cannot see move: one shared re-read for all its timers.
  if (!isSystemClock(clock)) return recheckOf(timed).add(deadline, fn);
  // The system clock moves only as real time passes: one real timer for the whole delay.
  let handle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    // Re-arm until the deadline really passed (setTimeout caps at ~24.8 days).
    const delay = Math.max(0, Math.min(deadline - timed.monotonicNow(), MAX_TIMEOUT_MS));
    handle = setTimeout(() => (timed.monotonicNow() >= deadline ? fn() : arm()), delay);
    unrefTimer(handle);
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}

/**
 * Where a clock keeps its {@link ClockRecheck}: a registry key, so both
 * builds of the package share one per clock.
 */
const RECHECK = Symbol.for("taquba.clockRecheck");

/** The timers of one clock that taquba cannot see move (see {@link ClockRecheck}). */
interface SharedRecheck {
  add(deadline: number, fn: () => void): TimerHandle;
}

/** The shared re-read of `timed`, made (and kept on it) by its first timer. */
function recheckOf(timed: MonotonicClock): SharedRecheck {
  const kept = (timed as { [RECHECK]?: SharedRecheck })[RECHECK];
  if (kept !== undefined) return kept;
  const recheck = new ClockRecheck(timed, Math.min(recheckMsOf(timed), MAX_TIMEOUT_MS));
  // A frozen clock keeps none: each of its timers then re-reads it on its own.
  if (Object.isExtensible(timed)) Object.defineProperty(timed, RECHECK, { value: recheck });
  return recheck;
}

/** A timer waiting on a {@link ClockRecheck}. */
interface Waiting {
  readonly deadline: number;
  readonly fn: () => void;
  /** Set by `cancel()`: a due timer cancelled by an earlier one's callback in the same wake-up does not fire. */
  cancelled: boolean;
}

/**
 * The timers of one clock taquba cannot see move share one real (unref'd)
 * timer, which reads the clock once per wake-up: at the earliest deadline
 * or after `recheckMs` (real), whichever comes first, and fires every timer
 * then due, earliest deadline first. A thousand waiting claims or job
 * deadlines cost one clock read per `schedulerIntervalMs`, not a thousand.
 */
class ClockRecheck implements SharedRecheck {
  readonly #clock: MonotonicClock;
  readonly #recheckMs: number;
  readonly #waiting = new Set<Waiting>();
  #handle: NodeJS.Timeout | undefined;
  /** When (real time, `performance.now()`) the real timer fires, while it is armed. */
  #firesAt = Number.POSITIVE_INFINITY;

  constructor(clock: MonotonicClock, recheckMs: number) {
    this.#clock = clock;
    this.#recheckMs = recheckMs;
  }

  add(deadline: number, fn: () => void): TimerHandle {
    const waiting: Waiting = { deadline, fn, cancelled: false };
    this.#waiting.add(waiting);
    const delay = this.#delayFor(deadline, this.#clock.monotonicNow());
    // Armed to fire later than this timer needs (or not at all): fire sooner.
    if (performance.now() + delay < this.#firesAt) this.#arm(delay);
    return {
      cancel: () => {
        waiting.cancelled = true;
        if (!this.#waiting.delete(waiting) || this.#waiting.size > 0) return;
        clearTimeout(this.#handle);
        this.#handle = undefined;
        this.#firesAt = Number.POSITIVE_INFINITY;
      },
    };
  }

  #delayFor(deadline: number, now: number): number {
    return Math.max(0, Math.min(deadline - now, this.#recheckMs));
  }

  #arm(delay: number): void {
    clearTimeout(this.#handle);
    this.#firesAt = performance.now() + delay;
    this.#handle = setTimeout(() => this.#check(), delay);
    unrefTimer(this.#handle);
  }

  #check(): void {
    this.#handle = undefined;
    this.#firesAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.monotonicNow();
    const due: Waiting[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const waiting of this.#waiting) {
      if (waiting.deadline <= now) due.push(waiting);
      else if (waiting.deadline < next) next = waiting.deadline;
    }
    for (const waiting of due) this.#waiting.delete(waiting);
    if (this.#waiting.size > 0) this.#arm(this.#delayFor(next, now));
    due.sort((a, b) => a.deadline - b.deadline);
    for (const waiting of due) {
      if (waiting.cancelled) continue;
      // Each timer fires as if it had its own: one that throws does not stop the others.
      try {
        waiting.fn();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/**
 * Run `fn` once when the wall time `deadlineMs` is due, measured as a delay
 * from now on monotonic time (so a later wall step neither stalls nor rushes
 * it). Callers that must not fire before a wall time re-check it when `fn` runs.
 */
export function createTimer(clock: Clock, deadlineMs: number, fn: () => void): TimerHandle {
  return startTimer(clock, deadlineMs - clock.now(), fn);
}
