/**
 * Abort signals of whichever realm made them. A test environment can put its
 * own `AbortController` in place of Node's (Jest's `jsdom` environment has
 * jsdom's, which lacks `AbortSignal.any` and `throwIfAborted`), and a caller's
 * signal may come from another realm than the code that checks it.
 */

/**
 * Whether `value` is an `AbortSignal` of any realm: by shape, not by
 * `instanceof`. It must have `reason` (what taquba rejects with once it
 * aborts), so an old polyfill without one is refused rather than making an
 * abort reject with `undefined`.
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== "object" || value === null) return false;
  const signal = value as Partial<AbortSignal>;
  return (
    typeof signal.aborted === "boolean" &&
    "reason" in signal &&
    typeof signal.addEventListener === "function" &&
    typeof signal.removeEventListener === "function"
  );
}

/** A signal made of others, and how to let go of them. */
export interface CombinedSignal {
  readonly signal: AbortSignal;
  /**
   * Stops following the sources (removes any listeners on them): call it once
   * the combined signal is no longer needed, so a source that outlives it
   * keeps no listener per combined signal. The signal then aborts no more.
   */
  dispose(): void;
}

function nothing(): void {}

/**
 * A signal that aborts, with the same reason, as soon as any of `signals`
 * does: `AbortSignal.any` where the host has it (nothing to dispose: the
 * host lets go of it with the signal), else the same by listeners, which are
 * removed from every source when it aborts or is disposed.
 */
export function anySignal(signals: readonly AbortSignal[]): CombinedSignal {
  if (typeof AbortSignal.any === "function")
    return { signal: AbortSignal.any(signals as AbortSignal[]), dispose: nothing };
  const controller = new AbortController();
  const aborted = signals.find((signal) => signal.aborted);
  if (aborted !== undefined) {
    controller.abort(aborted.reason);
    return { signal: controller.signal, dispose: nothing };
  }
  const dispose = (): void => {
    for (let i = 0; i < signals.length; i++)
      signals[i]!.removeEventListener("abort", listeners[i]!);
  };
  const listeners = signals.map((signal) => (): void => {
    dispose();
    controller.abort(signal.reason);
  });
  for (let i = 0; i < signals.length; i++) signals[i]!.addEventListener("abort", listeners[i]!);
  return { signal: controller.signal, dispose };
}
