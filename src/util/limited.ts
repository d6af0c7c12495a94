/**
 * Many independent asynchronous calls with a bound on how many are in
 * flight. Besides sparing the callee, the bound keeps the event loop's turns
 * short: calls into the thread pool (a `stat` per file of a listing) that
 * are all started at once also complete together, and libuv then runs every
 * completion, with its promise reactions, in one turn of the loop.
 */

/**
 * `items.map(fn)` awaited, running at most `limit` calls at a time, results
 * in the order of `items`. Rejects with the first error (calls already
 * started are left to finish; no new ones start).
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  return results;
}

/**
 * Runs asynchronous calls with at most `limit` of them in flight; the others
 * wait their turn, first come first served. Below the limit a call starts at
 * once.
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  #running = 0;
  /** Calls waiting for a slot: `#waiting[#head..]`, each resolved with the slot handed over. */
  #waiting: ((() => void) | undefined)[] = [];
  #head = 0;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** `fn()`, once fewer than the limit run. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running < this.#limit) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }

  /** Hands the slot of a finished call to the first waiting one, or frees it. */
  #release(): void {
    if (this.#head === this.#waiting.length) {
      this.#running--;
      return;
    }
    const next = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = undefined;
    // Drop the taken front now and then, so a list that never drains does not keep growing.
    if (this.#head === this.#waiting.length || this.#head >= 1024) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    next();
  }
}
