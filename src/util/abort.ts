/**
 * Abort signals of whichever realm made them. A test environment can put its
 * own `AbortController` in place of Node's (Jest's `jsdom` environment has
 * jsdom's, which lacks `AbortSignal.any` and `throwIfAborted`), and a caller's
 * signal may come from another realm than the code that checks it.
 */

/** Whether `value` is an `AbortSignal` of any realm: by shape, not by `instanceof`. */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== "object" || value === null) return false;
  const signal = value as Partial<AbortSignal>;
  return (
    typeof signal.aborted === "boolean" &&
    typeof signal.addEventListener === "function" &&
    typeof signal.removeEventListener === "function"
  );
}

/**
 * A signal that aborts, with the same reason, as soon as any of `signals`
 * does: `AbortSignal.any` where the host has it, else the same by listeners.
 */
export function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any(signals as AbortSignal[]);
  const controller = new AbortController();
  const aborted = signals.find((signal) => signal.aborted);
  if (aborted !== undefined) {
    controller.abort(aborted.reason);
    return controller.signal;
  }
  const listeners: (() => void)[] = [];
  for (const signal of signals) {
    const listener = (): void => {
      for (let i = 0; i < signals.length; i++)
        signals[i]!.removeEventListener("abort", listeners[i]!);
      controller.abort(signal.reason);
    };
    listeners.push(listener);
    signal.addEventListener("abort", listener);
  }
  return controller.signal;
}
