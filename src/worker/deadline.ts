/**
 * The per-job handler deadline (`EnqueueOptions.timeoutMs`) under
 * `runWorker`: a timer on the queue's clock (monotonic time) that, when it
 * fires, aborts the handler's signal and reports the attempt as timed out.
 * Also the words for a run abandoned at the worker's shutdown deadline.
 */
import { type Clock, startTimer, type TimerHandle } from "../clock.js";

/**
 * The error of an attempt whose handler the worker abandoned at its shutdown
 * deadline (`WorkerOptions.shutdownTimeoutMs`), still running.
 */
export function abandonedMessage(shutdownTimeoutMs: number): string {
  return `the worker shut down: the handler was still running ${shutdownTimeoutMs} ms after the shutdown began (shutdownTimeoutMs)`;
}

/** What `ctx.signal` of a run abandoned at the shutdown deadline aborts with. */
export function abandonedReason(shutdownTimeoutMs: number): Error {
  return new DOMException(abandonedMessage(shutdownTimeoutMs), "AbortError");
}

/** The message a timed-out attempt fails with (its `lastError`). */
export function timedOutMessage(timeoutMs: number): string {
  return `timed out after ${timeoutMs} ms`;
}

/** A started deadline: `signal` aborts when it passes; `cancel()` once the handler returned in time. */
export interface Deadline {
  readonly signal: AbortSignal;
  cancel(): void;
}

/**
 * Starts a deadline `timeoutMs` from now on `clock`; at the deadline the
 * signal aborts (with a `TimeoutError` reason) and `onTimeout` runs once.
 */
export function startDeadline(clock: Clock, timeoutMs: number, onTimeout: () => void): Deadline {
  const controller = new AbortController();
  let timer: TimerHandle | null = startTimer(clock, timeoutMs, () => {
    timer = null;
    controller.abort(new DOMException(timedOutMessage(timeoutMs), "TimeoutError"));
    onTimeout();
  });
  return {
    signal: controller.signal,
    cancel() {
      timer?.cancel();
      timer = null;
    },
  };
}
