/**
 * Time: the injectable `Clock`, the system clock, the `ManualClock` tests
 * drive by hand, and `createTimer`, the one-shot timer that follows either.
 */
/** Source of wall-clock time in milliseconds since the UNIX epoch. Injected everywhere time is read. */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to. Timers scheduled by taquba against a
 * `ManualClock` fire when `advance()` passes their deadline, so tests advance
 * time instead of sleeping.
 */
export class ManualClock implements Clock {
  #nowMs: number;
  readonly #listeners = new Set<() => void>();

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  /** Move time forward by `ms` (must be ≥ 0) and let waiting timers fire. */
  advance(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms))
      throw new RangeError(`advance(ms): expected a finite ms >= 0, got ${ms}`);
    this.#nowMs += ms;
    for (const listener of [...this.#listeners]) listener();
  }

  /** Set the absolute time (never backwards). */
  set(ms: number): void {
    this.advance(Math.max(0, ms - this.#nowMs));
  }

  /** @internal Called on every advance; used by {@link createTimer}. */
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
 * Run `fn` once when `clock.now() >= deadlineMs`. With the system clock this is
 * a real (unref'd) timer; with a {@link ManualClock} it fires on `advance()`.
 * Timers never keep the process alive.
 */
export function createTimer(clock: Clock, deadlineMs: number, fn: () => void): TimerHandle {
  if (clock instanceof ManualClock) {
    let done = false;
    const check = (): void => {
      if (done || clock.now() < deadlineMs) return;
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
    const delay = Math.max(0, Math.min(deadlineMs - clock.now(), 2_147_483_647));
    handle = setTimeout(() => (clock.now() >= deadlineMs ? fn() : arm()), delay);
    handle.unref();
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}
