/**
 * How long the log's WAL creates took lately, as the checkpoint policy reads
 * it (see `checkpoint-policy.ts`): the median of the last
 * {@link CREATE_TIMES_WINDOW} creates that succeeded. Separate from
 * `wal-window.ts`, which times the creates, so the estimate reads in one place.
 *
 * A median rather than an average: what the policy asks is whether the store
 * is a local disk (about a millisecond a create) or a remote one (several, or
 * tens), and the slow creates of a fast store are outliers of a kind an
 * average counts in full: a fresh process's creates seen late behind long
 * turns of code not yet optimised, a garbage-collection pause, the first
 * writes of a file store before its writer thread is up. An average over the
 * last eight creates, each capped at 8 ms, took a third of them at 6 ms to
 * call a 1 ms disk slow; the median of the window needs half of them slow.
 */

/** How many of the latest successful WAL creates {@link CreateTimes} takes the median of. */
export const CREATE_TIMES_WINDOW = 16;

/** The latest WAL create times (ms) and their median. */
export class CreateTimes {
  /** The latest times, a ring of up to {@link CREATE_TIMES_WINDOW}. */
  readonly #times: number[] = [];
  /** Where the next time goes in {@link #times} once it is full. */
  #next = 0;
  /** The median, computed when first asked after a new time. */
  #median: number | null = null;
  #stale = false;

  /** A create succeeded after `ms`. */
  record(ms: number): void {
    if (this.#times.length < CREATE_TIMES_WINDOW) this.#times.push(ms);
    else {
      this.#times[this.#next] = ms;
      this.#next = (this.#next + 1) % CREATE_TIMES_WINDOW;
    }
    this.#stale = true;
  }

  /**
   * The median of the latest times (the mean of the middle two of an even
   * count), or null before the first. A time that is not a number (a clock
   * that returned NaN) sorts as slower than any: with enough of them the
   * median is NaN, which the policy reads as slow.
   */
  get median(): number | null {
    if (this.#stale) {
      const sorted = this.#times.slice().sort(slowerLast);
      const mid = sorted.length >> 1;
      this.#median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
      this.#stale = false;
    }
    return this.#median;
  }
}

/** Ascending, with NaN after every number. */
function slowerLast(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a - b;
}
