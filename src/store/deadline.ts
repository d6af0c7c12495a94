/**
 * Time limits on store calls. Every adapter runs each call through
 * {@link withDeadline}, so a server that accepts a connection and never
 * answers, or a network filesystem that stalls, ends the call with a
 * transient {@link StorageError} instead of leaving it pending forever; the
 * log then retries it with backoff like any other transient failure.
 */
import { StorageError } from "../errors.js";

/** Default limit on one store call (every adapter). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The longest time limit a store accepts (about 24.8 days): the most a Node
 * timer can wait. A longer one would fire after 1 ms instead (Node's
 * `TimeoutOverflowWarning`), failing every call at once.
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/** The cause of a timed-out call's {@link StorageError}. */
export class StoreTimeoutError extends Error {
  readonly code = "ETIMEDOUT" as const;
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = "StoreTimeoutError";
  }
}

/** What a timed-out call was, for its message. */
export interface CallDescription {
  store: string;
  op: string;
  key: string;
  /**
   * The last failed answer the client got during this call, if it kept
   * retrying past the limit (e.g. "HTTP 503: Backend Error"): then the
   * service did answer, and the message says so instead of "without an answer".
   */
  lastAnswer?: () => string | undefined;
}

/**
 * A store call's time limit as the call sees it. It has an AbortSignal's
 * `aborted`, `reason` and one-shot `"abort"` listeners, which is all the
 * FileStore's own writes use of it, without building an `AbortSignal` (an
 * EventTarget: about 4 µs to make, and as much again to add and remove a
 * listener, on the path of every WAL create). {@link signal} makes a real
 * one on first use, for calls that hand it to a client library.
 */
export class CallDeadline {
  #expired = false;
  #reason: unknown = undefined;
  #controller: AbortController | undefined;
  #listeners: Array<() => void> | undefined;

  /** Whether the limit has passed. */
  get aborted(): boolean {
    return this.#expired;
  }

  /** Why the call was given up (a {@link StoreTimeoutError}); undefined before. */
  get reason(): unknown {
    return this.#reason;
  }

  /** An `AbortSignal` that aborts when the limit passes (made on first use, aborted if it has). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#expired) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Runs `listener` once when the limit passes; never if it has already (as an `AbortSignal`). */
  addEventListener(_type: "abort", listener: () => void, _options?: { once?: boolean }): void {
    if (this.#expired) return;
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const listeners = this.#listeners;
    const at = listeners === undefined ? -1 : listeners.indexOf(listener);
    if (at >= 0) listeners!.splice(at, 1);
  }

  /**
   * The limit passed: aborts the signal if one was made, then runs the
   * listeners. As on an `AbortSignal`, a listener removed by an earlier one
   * does not run, and one that throws does not keep the rest from running;
   * the first error is thrown once all have run.
   */
  expire(reason: unknown): void {
    if (this.#expired) return;
    this.#expired = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    let failure: { error: unknown } | undefined;
    for (const listener of listeners.slice()) {
      if (!listeners.includes(listener)) continue;
      try {
        listener();
      } catch (error) {
        failure ??= { error };
      }
    }
    this.#listeners = undefined;
    if (failure !== undefined) throw failure.error;
  }
}

/** What a FileStore write uses of its caller's deadline: an `AbortSignal` or a {@link CallDeadline}. */
export type DeadlineSignal = Pick<
  CallDeadline,
  "aborted" | "reason" | "addEventListener" | "removeEventListener"
>;

/**
 * Run `call` with a limit of `timeoutMs`: it settles as `call` does, or
 * rejects with a transient {@link StorageError} once the limit passes. The
 * signal handed to `call` aborts at that moment, so the request is torn down
 * where the client supports it; a call that ignores it is abandoned (its
 * eventual outcome is dropped; a write may still land, which the log's
 * read-back of ambiguous creates handles).
 */
export function withDeadline<T>(
  timeoutMs: number,
  what: CallDescription,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return withCallDeadline(timeoutMs, what, (deadline) => call(deadline.signal));
}

/**
 * {@link withDeadline} with the limit handed to `call` as a
 * {@link CallDeadline}, which makes no `AbortSignal` unless `call` asks for
 * one. The timer is armed once `call` has returned: the synchronous start of
 * the call (a FileStore write's request posted to its thread) does not wait
 * for it, and the call's outcome is handled only after it, in a later
 * microtask.
 */
export function withCallDeadline<T>(
  timeoutMs: number,
  what: CallDescription,
  call: (deadline: CallDeadline) => Promise<T>,
): Promise<T> {
  const deadline = new CallDeadline();
  // One promise settled by whichever comes first (no race of two, no async frame): this
  // wraps every store call, the log's WAL creates among them.
  return new Promise<T>((resolve, reject) => {
    let running: Promise<T>;
    try {
      // Wrapped: a call that returns a plain value (untyped code) still clears the timer.
      running = Promise.resolve(call(deadline));
    } catch (err) {
      reject(err);
      return;
    }
    const timer = setTimeout(() => {
      const cause = new StoreTimeoutError(timeoutMs);
      try {
        deadline.expire(cause);
      } finally {
        // Rejected even if a listener threw (its error then goes on, uncaught, as an
        // AbortSignal's listener's would).
        const answered = what.lastAnswer?.();
        const how =
          answered === undefined
            ? "without an answer"
            : `while the client library retried; the last answer was ${answered}`;
        reject(
          new StorageError(
            `${what.op} "${what.key}" on ${what.store} timed out after ${timeoutMs} ms ${how} ` +
              "(it may still take effect)",
            { cause },
          ),
        );
      }
    }, timeoutMs);
    running.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
