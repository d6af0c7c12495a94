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

  /**
   * Takes back up to `n` of the claims counted by a {@link take} at `takenAt`
   * (those already out of the window at `now` need nothing): their jobs were
   * never handed out. Claims taken at the same time are interchangeable, so
   * any of them will do; later ones keep their places.
   */
  giveBack(n: number, takenAt: number, now: number): void {
    this.available(now);
    let left = n;
    // Newest first: the claims of `takenAt` are at or near the end.
    for (let k = this.#count - 1; k >= 0 && left > 0; k--) {
      const at = this.#times[(this.#head + k) % this.max]!;
      if (at < takenAt) break;
      if (at !== takenAt) continue;
      for (let j = k; j < this.#count - 1; j++)
        this.#times[(this.#head + j) % this.max] = this.#times[(this.#head + j + 1) % this.max]!;
      this.#count--;
      left--;
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

  /** Counts `n` claims of `queue` taken now; returns now (monotonic), for {@link giveBack}. */
  take(queue: string, limit: { max: number; perMs: number } | null, n: number): number {
    const now = this.#clock.monotonicNow();
    this.window(queue, limit)?.take(n, now);
    return now;
  }

  /**
   * Uncounts `n` claims of `queue` that {@link take} counted at `takenAt`,
   * whose jobs were never handed out (dead-lettered during the claim for a
   * damaged payload object): they do not use up the queue's budget.
   */
  giveBack(
    queue: string,
    limit: { max: number; perMs: number } | null,
    n: number,
    takenAt: number,
  ): void {
    if (limit === null || n < 1) return;
    this.#windows.get(queue)?.giveBack(n, takenAt, this.#clock.monotonicNow());
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
