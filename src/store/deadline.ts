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
  const controller = new AbortController();
  // One promise settled by whichever comes first (no race of two, no async frame): this
  // wraps every store call, the log's WAL creates among them.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const cause = new StoreTimeoutError(timeoutMs);
      controller.abort(cause);
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
    }, timeoutMs);
    let running: Promise<T>;
    try {
      // Wrapped: a call that returns a plain value (untyped code) still clears the timer.
      running = Promise.resolve(call(controller.signal));
    } catch (err) {
      clearTimeout(timer);
      reject(err);
      return;
    }
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
