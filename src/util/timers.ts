/**
 * The `Timeout` methods of a timer handle, safe where the host's timer
 * functions return numbers: a test environment that puts browser-like timers
 * in place of Node's (Jest's `jsdom`) hands out plain ids, which have no
 * `unref`, `ref` or `refresh`. There a timer cannot be unref'd and simply
 * stays ref'd; one to refresh is armed anew.
 */

/** A handle as `setTimeout` or `setInterval` returns it: a `Timeout`, or a number. */
type Handle = ReturnType<typeof setTimeout> | number;

/** Its `Timeout` methods where it has them (a number has none). */
type Methods = Partial<Pick<NodeJS.Timeout, "ref" | "unref" | "refresh">>;

/** Lets the process exit while only `handle` is pending (where the host allows). */
export function unrefTimer(handle: Handle): void {
  (handle as Methods).unref?.();
}

/** Holds the process open while `handle` is pending (a number always does). */
export function refTimer(handle: Handle): void {
  (handle as Methods).ref?.();
}

/**
 * Restarts one-shot timer `handle` for its full delay: `refresh()` where it
 * has one, else clears it and arms a new one with `rearm`. Returns the handle
 * to keep.
 */
export function refreshTimer<T extends Handle>(handle: T, rearm: () => T): T {
  if (typeof (handle as Methods).refresh === "function") {
    (handle as Methods).refresh?.();
    return handle;
  }
  clearTimeout(handle);
  return rearm();
}
