/**
 * Time: the injectable `Clock` (wall time plus an optional monotonic
 * reading), the system clock, the `ManualClock` tests drive by hand, and the
 * one-shot timers that follow either.
 *
 * Two kinds of time. Wall time (`now()`, ms since the UNIX epoch) is for what
 * users see and what is stored: `runAt`, timestamps, retention cut-offs.
 * Monotonic time (`monotonicNow()`, arbitrary origin, never goes back) is for
 * every interval this process measures: group-commit windows, retry backoff,
 * epoch checks, checkpoint intervals, leases and timers. A step of the wall
 * clock then moves no timer and stalls no write.
 */

import { invalidArgument } from "./validate.js";

/**
 * Source of time. Injected everywhere time is read.
 *
 * A clock without `monotonicNow` still works: taquba then derives monotonic
 * time from `now()` by adding up only its forward movements, so a wall step
 * back stalls nothing (a step forward, which cannot be told from time passing,
 * fires due timers early).
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

/** The real clock: `Date.now()` for wall time, `performance.now()` for monotonic time. */
export const systemClock: MonotonicClock = {
  now: () => Date.now(),
  monotonicNow: () => performance.now(),
};

/**
 * `clock` itself when it has `monotonicNow`; otherwise a clock whose
 * monotonic reading adds up the forward movements of `clock.now()` (a step
 * back counts as no time passing). Each call makes an independent reading.
 */
export function withMonotonic(clock: Clock): MonotonicClock {
  if (typeof clock.monotonicNow === "function") return clock as MonotonicClock;
  let lastWall = clock.now();
  let elapsed = 0;
  return {
    now: () => clock.now(),
    monotonicNow: () => {
      const wall = clock.now();
      if (wall > lastWall) elapsed += wall - lastWall;
      lastWall = wall;
      return elapsed;
    },
  };
}

/**
 * Marks a `ManualClock` of either build of the package (ESM or CommonJS): a
 * test may hand one build's clock to the other build's queue, and
 * `instanceof` does not recognise it there.
 */
const MANUAL_CLOCK = Symbol.for("taquba.manualClock");

/** A clock whose timers move only on `advance()`: a {@link ManualClock} of either build. */
interface AdvancedByHand extends MonotonicClock {
  onAdvance(listener: () => void): () => void;
}

function isManualClock(clock: Clock): clock is AdvancedByHand {
  return (clock as { [MANUAL_CLOCK]?: unknown })[MANUAL_CLOCK] === true;
}

/**
 * A clock that only moves when told to. Timers scheduled by taquba against a
 * `ManualClock` fire when `advance()` passes their deadline, so tests advance
 * time instead of sleeping. `stepWall()` moves the wall reading alone, as a
 * clock step (NTP, a VM resume, an operator) would.
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

  /** Move time forward by `ms` (must be ≥ 0), both readings, and let waiting timers fire. */
  advance(ms: number): void {
    if (typeof ms !== "number" || !(ms >= 0) || !Number.isFinite(ms))
      throw invalidArgument("ms", "a finite number of milliseconds ≥ 0", ms);
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

  /** Set the absolute wall time (never backwards; time passes to get there). */
  set(ms: number): void {
    if (typeof ms !== "number" || !Number.isFinite(ms))
      throw invalidArgument("ms", "a finite number of epoch milliseconds", ms);
    this.advance(Math.max(0, ms - this.#wallMs));
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
 * this is a real (unref'd) timer; with a {@link ManualClock} it fires on
 * `advance()`. Timers never keep the process alive.
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
  let handle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    // setTimeout caps at ~24.8 days; re-arm until the deadline really passed.
    const delay = Math.max(0, Math.min(deadline - timed.monotonicNow(), 2_147_483_647));
    handle = setTimeout(() => (timed.monotonicNow() >= deadline ? fn() : arm()), delay);
    handle.unref();
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}

/**
 * Run `fn` once when the wall time `deadlineMs` is due, measured as a delay
 * from now on monotonic time (so a later wall step neither stalls nor rushes
 * it). Callers that must not fire before a wall time re-check it when `fn` runs.
 */
export function createTimer(clock: Clock, deadlineMs: number, fn: () => void): TimerHandle {
  return startTimer(clock, deadlineMs - clock.now(), fn);
}
