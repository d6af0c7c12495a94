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
