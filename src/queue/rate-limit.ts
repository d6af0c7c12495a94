/**
 * Per-queue claim rate limits (`QueueConfig.rateLimit`), in memory and
 * shared by every claimer of the process: a sliding window over monotonic
 * time that allows at most `max` claims in any `perMs` window, and one timer
 * per limited queue that wakes its waiting claims when the window opens
 * again (no polling: the timer aims at the moment the oldest claim in the
 * window leaves it).
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";

/** Largest `rateLimit.max`: the window keeps one number per claim in it. */
export const MAX_RATE_LIMIT = 1_000_000;

/** The claims of the last `perMs` of monotonic time, at most `max` of them. */
export class RateWindow {
  readonly max: number;
  readonly perMs: number;
  /** Claim times, a ring: `#count` entries from `#head`, oldest first. */
  readonly #times: Float64Array;
  #head = 0;
  #count = 0;

  constructor(max: number, perMs: number) {
    this.max = max;
    this.perMs = perMs;
    this.#times = new Float64Array(max);
  }

  /** How many claims may be taken at monotonic time `now`. */
  available(now: number): number {
    while (this.#count > 0 && this.#times[this.#head]! <= now - this.perMs) {
      this.#head = (this.#head + 1) % this.max;
      this.#count--;
    }
    return this.max - this.#count;
  }

  /** Counts `n` claims (at most {@link available}) taken at `now`. */
  take(n: number, now: number): void {
    for (let k = 0; k < n && this.#count < this.max; k++) {
      this.#times[(this.#head + this.#count) % this.max] = now;
      this.#count++;
    }
  }

  /** The monotonic time at which a claim may next be taken (`now` when one may now). */
  openAt(now: number): number {
    return this.available(now) > 0 ? now : this.#times[this.#head]! + this.perMs;
  }
}

/** The rate windows of every limited queue, and the timers that reopen them. */
export class RateLimits {
  readonly #clock: MonotonicClock;
  readonly #windows = new Map<string, RateWindow>();
  readonly #timers = new Map<string, { at: number; handle: TimerHandle }>();
  #stopped = false;

  constructor(clock: MonotonicClock) {
    this.#clock = clock;
  }

  /** The window of `queue` under `limit`, or `null` when it is not limited. */
  window(queue: string, limit: { max: number; perMs: number } | null): RateWindow | null {
    if (limit === null) return null;
    let window = this.#windows.get(queue);
    if (window === undefined) {
      window = new RateWindow(limit.max, limit.perMs);
      this.#windows.set(queue, window);
    }
    return window;
  }

  /** How many claims of `queue` may be taken now (`Infinity` when it is not limited). */
  available(queue: string, limit: { max: number; perMs: number } | null): number {
    const window = this.window(queue, limit);
    return window === null
      ? Number.POSITIVE_INFINITY
      : window.available(this.#clock.monotonicNow());
  }

  /** Counts `n` claims of `queue` taken now. */
  take(queue: string, limit: { max: number; perMs: number } | null, n: number): void {
    this.window(queue, limit)?.take(n, this.#clock.monotonicNow());
  }

  /**
   * `queue` has claims waiting for its window: call `reopen` once the window
   * has room again (one timer per queue, aimed at that moment).
   */
  wake(queue: string, limit: { max: number; perMs: number } | null, reopen: () => void): void {
    const window = this.window(queue, limit);
    if (window === null || this.#stopped) return;
    const now = this.#clock.monotonicNow();
    const at = window.openAt(now);
    const armed = this.#timers.get(queue);
    if (armed !== undefined && armed.at <= at) return;
    armed?.handle.cancel();
    const handle = startTimer(this.#clock, at - now, () => {
      this.#timers.delete(queue);
      if (!this.#stopped) reopen();
    });
    this.#timers.set(queue, { at, handle });
  }

  /** Cancels every timer for good. */
  stop(): void {
    this.#stopped = true;
    for (const { handle } of this.#timers.values()) handle.cancel();
    this.#timers.clear();
  }
}
