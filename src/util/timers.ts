/**
 * The timers taquba takes turns with, safe in hosts that are not quite Node.
 *
 * Its own turns (yielding between slices of work, deferring to the next turn)
 * use Node's `setImmediate`/`clearImmediate` of `node:timers` as they were
 * when this module loaded: a test's fake timers, installed later, never drive
 * them, whether they patch the globals or `node:timers`, and whichever build
 * (ESM or CommonJS) is loaded. Delays, leases and schedules are another
 * matter: they follow the queue's `Clock` and the global `setTimeout`, so fake
 * timers and a `ManualClock` do drive them.
 *
 * The `Timeout` methods of a timer handle are called only where the handle
 * has them: a test environment that puts browser-like timers in place of
 * Node's (Jest's `jsdom`) hands out plain ids, which have no `unref`, `ref`
 * or `refresh`. There a timer cannot be unref'd and simply stays ref'd; one
 * to refresh is armed anew.
 */

import {
  clearImmediate as nodeClearImmediate,
  clearInterval as nodeClearInterval,
  setImmediate as nodeSetImmediate,
  setInterval as nodeSetInterval,
  setTimeout as nodeSetTimeout,
} from "node:timers";

/** `setImmediate` of `node:timers` as it was when taquba loaded (never a fake installed later). */
export const turnLater: typeof nodeSetImmediate = nodeSetImmediate;

/** `clearImmediate` of `node:timers` as it was when taquba loaded, for {@link turnLater}'s handles. */
export const cancelTurn: typeof nodeClearImmediate = nodeClearImmediate;

/** `setTimeout` of `node:timers` as it was when taquba loaded, for {@link idleTurn}. */
const timeoutLater: typeof nodeSetTimeout = nodeSetTimeout;

/**
 * Resolves after a turn of the event loop, through an unref'd timer: work
 * that yields with it never holds a process open (it just stops with it).
 */
export function idleTurn(): Promise<void> {
  return new Promise((resolve) => {
    timeoutLater(resolve, 0).unref?.();
  });
}

/**
 * Runs `callback` at a timers phase of the event loop, a millisecond or more
 * from now, through an unref'd timer (it never holds a process open).
 */
export function timersPhaseLater(callback: () => void): void {
  timeoutLater(callback, 0).unref?.();
}

/**
 * `done`, holding the process open until it settles: for a caller that waits
 * for work that yields through {@link idleTurn}.
 */
export function keptOpenUntil(done: Promise<void>): Promise<void> {
  const hold = nodeSetInterval(() => {}, 60_000);
  return done.finally(() => nodeClearInterval(hold));
}

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
  const methods = handle as Methods;
  if (typeof methods.refresh === "function") {
    methods.refresh();
    return handle;
  }
  clearTimeout(handle);
  return rearm();
}
