/**
 * Retries of transient store errors with capped exponential backoff. Sleeps
 * follow the injected clock's monotonic time and can be cut short when the log fails or closes,
 * so no retry outlives its log.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import { StorageError, taqubaErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import { isProgrammingError, programmingFailure } from "../store/programming-error.js";
import { isObjectExistsError } from "../store/types.js";
import { messageOf } from "../util/message.js";
import { type RandomSource, systemRandom } from "../util/random.js";
import type { RetryPolicy } from "./options.js";
import type { RetryWarnings } from "./retry-warnings.js";

/**
 * Store errors worth retrying: anything but a lost create, one of our own
 * verdicts, a failure the store classified as permanent (it cannot heal), or
 * a bug or broken runtime in the store's code (see {@link isProgrammingError}).
 */
export function isTransient(error: unknown): boolean {
  // "The key exists" (not transient: the create lost); the store probe goes by the same check.
  if (isObjectExistsError(error)) return false;
  // By code, not instanceof: a store built by the package's other build throws its errors.
  const code = taqubaErrorCode(error);
  if (code === "STORAGE") return !isPermanent(error);
  return code === undefined && !isProgrammingError(error);
}

/**
 * What a request `what` that failed with `error`, not transient, rejects
 * with: the error itself, or for a bug or broken runtime in the store's code
 * (a raw error: only a store of the user's own throws one; the built-in stores
 * wrap theirs), a permanent {@link StorageError} that says so (the error as
 * its `cause`).
 */
function notRetried(what: string, error: unknown): unknown {
  return taqubaErrorCode(error) === undefined && isProgrammingError(error)
    ? programmingFailure(what, error)
    : error;
}

/** A `StorageError` (of either build of the package) that cannot heal by retrying. */
export function isPermanent(error: unknown): error is StorageError {
  return taqubaErrorCode(error) === "STORAGE" && (error as StorageError).permanent === true;
}

/**
 * Cancellable sleeps on a clock; `wakeAll()` ends every pending sleep early.
 * A sleeping retry keeps the process alive (someone awaits its outcome),
 * unlike the clock's timers, which never do.
 */
export class Sleeper {
  readonly #pending = new Map<TimerHandle, () => void>();

  constructor(readonly clock: MonotonicClock) {}

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // Held until the wake-up itself: a same-length timeout could expire first.
      const keepAlive = setInterval(() => {}, 1 << 30);
      const wake = (): void => {
        clearInterval(keepAlive);
        this.#pending.delete(timer);
        resolve();
      };
      const timer = startTimer(this.clock, ms, wake);
      this.#pending.set(timer, wake);
    });
  }

  wakeAll(): void {
    for (const [timer, wake] of [...this.#pending]) {
      timer.cancel();
      wake();
    }
  }
}

/**
 * Retry sequences that warn once between them while they fail together. At
 * `Queue.open` the conditional-write probe and the manifest listing run side
 * by side, and one store outage fails both: the first to fail warns for both,
 * and the next warning waits until every failing one has ended. The opener
 * closes the episode once those requests are done; from then on every
 * sequence warns at its own first failure again, so one that never settles
 * cannot silence the failures after it.
 */
export class RetryEpisode {
  #failing = 0;
  #closed = false;

  /** Marks a sequence failing; whether it warns (the first to fail, or any once closed). */
  begin(): boolean {
    if (this.#closed) return true;
    return this.#failing++ === 0;
  }

  /** Marks a failing sequence ended, by success or by giving up. */
  end(): void {
    if (!this.#closed) this.#failing--;
  }

  /** Ends the episode: no later failure is kept quiet by one that began before. */
  close(): void {
    this.#closed = true;
    this.#failing = 0;
  }
}

export interface RetryContext {
  /** Backoff and the retry budget run on its monotonic reading. */
  clock: MonotonicClock;
  policy: RetryPolicy;
  logger: Logger;
  sleeper: Sleeper;
  /** An error to stop with instead of retrying (the log already failed), or null. */
  stopReason(): Error | null;
  /** Where backoff jitter comes from (the system's unless a test passes its own). */
  random?: RandomSource;
  /** Shared by the sequences that should log one warning between them (the open's first reads); each warns alone without. */
  episode?: RetryEpisode;
  /** One line per problem across sequences (see `retry-warnings.ts`); without it each sequence warns. */
  warnings?: RetryWarnings;
}

/** The first failure of a retry sequence of `what`: its warning (or, while the same problem lasts, a debug line). */
export function retryFailed(ctx: RetryContext, what: string, error: unknown): void {
  const fields = { what, retryForMs: ctx.policy.maxElapsedMs, error: messageOf(error) };
  if (ctx.warnings !== undefined) ctx.warnings.failed(what, error, fields);
  else ctx.logger.warn("store request failed; retrying with backoff", fields);
}

/**
 * Runs `op` until it succeeds, throws a non-transient error (see
 * {@link notRetried}), or retrying has taken longer than `maxElapsedMs`
 * (then {@link StorageError} naming `what`). Once `ctx.stopReason()` is
 * set, it throws that instead of trying or waiting again.
 * A retry sequence logs one warning, at its first failure, not one per attempt;
 * none when another sequence of the same {@link RetryContext.episode} is
 * failing already (one outage, one line), or when the same problem failed an
 * earlier sequence (see {@link RetryContext.warnings}).
 */
export async function withRetry<T>(
  ctx: RetryContext,
  what: string,
  op: () => Promise<T>,
): Promise<T> {
  const started = ctx.clock.monotonicNow();
  let failing = false;
  try {
    for (let attempt = 0; ; attempt++) {
      const stop = ctx.stopReason();
      if (stop !== null) throw stop;
      try {
        const value = await op();
        ctx.warnings?.succeeded(what);
        return value;
      } catch (error) {
        if (!isTransient(error)) throw notRetried(what, error);
        const delay = backoffDelay(ctx.policy, attempt, ctx.random);
        const elapsed = Math.round(ctx.clock.monotonicNow() - started);
        if (elapsed + delay > ctx.policy.maxElapsedMs) {
          throw new StorageError(
            `${what} failed after ${attempt + 1} attempt(s) over ${elapsed} ms: ${messageOf(error)}`,
            { cause: error },
          );
        }
        // Stopped while this attempt was in flight (closed or failed): stop now, as the next
        // attempt would, with no retry line and no backoff sleep that nothing wakes any more
        // (the stop woke only the sleeps pending then) and that would hold the process.
        const stopped = ctx.stopReason();
        if (stopped !== null) throw stopped;
        if (failing) ctx.warnings?.failedAgain(what, error);
        else {
          failing = true;
          if (ctx.episode?.begin() ?? true) retryFailed(ctx, what, error);
          else
            ctx.logger.debug?.("store request failed; retrying with backoff", {
              what,
              retryForMs: ctx.policy.maxElapsedMs,
              error: messageOf(error),
            });
        }
        await ctx.sleeper.sleep(delay);
      }
    }
  } finally {
    if (failing) ctx.episode?.end();
  }
}

/** The delay before retry number `attempt` (from 0): capped exponential, with jitter. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: RandomSource = systemRandom,
): number {
  const exponential = policy.baseDelayMs * 2 ** Math.min(attempt, 30);
  // Jitter keeps several processes retrying against one store from moving in lockstep.
  return Math.min(policy.maxDelayMs, exponential) * (0.5 + random.fraction() / 2);
}
