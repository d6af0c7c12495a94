/**
 * The worker's shutdown deadline (`WorkerOptions.shutdownTimeoutMs`): once
 * claiming stops (the worker's `signal` aborted, or the queue closed or
 * failed), a timer on the queue's clock; when it passes, the handlers still
 * running are abandoned: their `ctx.signal` aborts, their attempts fail
 * (while the queue is open) and their slots free, so the worker can end.
 * Also what the worker says of them, once.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import type { Logger } from "../logger.js";
import type { Queue } from "../queue/queue.js";
import type { Claim } from "../queue/types.js";
import { claimLostReason, claimSettledAlready, onQueueStopped } from "../queue/worker-hooks.js";
import { abandonedMessage, abandonedReason } from "./deadline.js";
import type { JobRun, RunAbandonment } from "./job-run.js";

/** What a {@link ShutdownDeadline} works with. */
export interface ShutdownDeadlineOwner {
  readonly queue: Queue;
  readonly queueName: string;
  /** The clock of the queue's timers: the deadline runs on it. */
  readonly clock: MonotonicClock;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /**
   * Fail the attempt of `claim`, whose handler was abandoned, with `message`;
   * given as a promise, once it resolves, unless to `null`. Tracked as a
   * settlement either way: the worker ends once it is durable.
   */
  fail(claim: Claim, message: string | Promise<string | null>): void;
  /** The queue stopped (closed or failed): claiming stops, and the deadline should start. */
  queueStopped(): void;
}

export class ShutdownDeadline implements RunAbandonment {
  /** The runs not over yet: those the deadline abandons. */
  readonly runs = new Set<JobRun>();
  readonly #owner: ShutdownDeadlineOwner;
  #timer: TimerHandle | null = null;
  #armed = false;
  /** Stops telling the worker that the queue stopped; `null` for a queue without the hook. */
  readonly #offQueueStopped: (() => void) | null;
  /** Runs abandoned once the queue had stopped: nothing was written for them. */
  #leftToNextOpen = 0;
  /** Attempts failed at the deadline, for its warning. */
  #failedNow = 0;
  /** Runs abandoned whose attempts had failed as timed out already, for its warning. */
  #timedOutAlready = 0;
  /** Runs abandoned whose claims were settled already or lost, for its warning. */
  #settledOrLost = 0;
  /** Runs left to the handler's own settling transaction at the deadline, for its warning. */
  #leftToOwnTransaction = 0;

  constructor(owner: ShutdownDeadlineOwner) {
    this.#owner = owner;
    // A queue that stops while every slot runs a handler (no claim out to tell the
    // worker) must start the deadline all the same. Out of the queue's close: a turn later.
    this.#offQueueStopped = onQueueStopped(owner.queue, () =>
      queueMicrotask(() => owner.queueStopped()),
    );
  }

  /** Claiming stopped: the deadline starts now, unless it started already. */
  arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#timer = startTimer(this.#owner.clock, this.#owner.timeoutMs, () => this.#passed());
  }

  /** The worker ended: no deadline any more. */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#offQueueStopped?.();
  }

  /**
   * The run of `claim` was abandoned, its attempt not failed yet (not timed
   * out): fail it while the queue is open. A claim the handler's own
   * transaction settled, or that was lost (cancelled, its lease reaped), is
   * the queue's already. With `settling` (the handler's own transactions
   * that settle the job, in flight), the worker waits for them as for any
   * settlement, so that an ack made in the abort listener is durable before
   * it ends, and fails the attempt only if they did not settle the job.
   */
  abandoned(claim: Claim, settling: Promise<boolean> | null): void {
    if (settling === null) {
      if (this.#owner.queue.closed) this.#leftToNextOpen++;
      else if (this.#live(claim)) {
        this.#failedNow++;
        this.#owner.fail(claim, abandonedMessage(this.#owner.timeoutMs));
      } else this.#settledOrLost++;
      return;
    }
    this.#leftToOwnTransaction++;
    this.#owner.fail(
      claim,
      settling.then((settled) => {
        if (settled) return null;
        if (this.#owner.queue.closed) {
          this.#leftToNextOpen++;
          return null;
        }
        return this.#live(claim) ? abandonedMessage(this.#owner.timeoutMs) : null;
      }),
    );
  }

  /** Whether `claim` is still the worker's to settle: not settled by the handler, not lost. */
  #live(claim: Claim): boolean {
    const { queue } = this.#owner;
    return !claimSettledAlready(queue, claim) && claimLostReason(queue, claim) === undefined;
  }

  /** The run was abandoned after its attempt failed as timed out: nothing to fail. */
  abandonedTimedOut(): void {
    this.#timedOutAlready++;
  }

  /** The handler of an abandoned run ended after all: one debug line. */
  endedAfterAbandoned(claim: Claim): void {
    this.#owner.logger.debug?.(
      `worker: job ${claim.id} of queue "${this.#owner.queueName}" ended after its handler was ` +
        "abandoned at the shutdown deadline; its outcome is ignored",
      { jobId: claim.id, queue: this.#owner.queueName },
    );
  }

  /** For the worker's line on a fence: the abandoned runs whose jobs the new writer runs again. */
  get fencedNote(): string {
    return this.#leftToNextOpen > 0
      ? `; ${this.#leftToNextOpen} handler(s) still running at the shutdown deadline were abandoned, and the new writer runs their jobs again too`
      : "";
  }

  /** After a plain close: one warning for the runs abandoned once the queue had closed. */
  reportClosed(): void {
    if (this.#leftToNextOpen === 0) return;
    const { logger, queueName, timeoutMs } = this.#owner;
    logger.warn(
      `worker: ${this.#leftToNextOpen} handler(s) of queue "${queueName}" still running ${timeoutMs} ms ` +
        "after the shutdown began were abandoned (shutdownTimeoutMs) once the queue had closed; " +
        "those jobs are requeued when the store is opened again",
      { queue: queueName, abandoned: this.#leftToNextOpen },
    );
  }

  /** The deadline passed: give up on every handler still running. */
  #passed(): void {
    this.#timer = null;
    if (this.runs.size === 0) return;
    const { queue, queueName, logger, timeoutMs } = this.#owner;
    const open = !queue.closed;
    const left = [...this.runs];
    const reason = abandonedReason(timeoutMs);
    // Each frees its slot; the last one lets the worker end (once settlements are durable).
    for (const run of left) run.abandon(reason);
    // A stopped queue's worker says so once, in its closing line (a fence logs one line).
    if (!open) return;
    // Each run abandoned here is counted once, for what became of its attempt: failed
    // here, timed out already, settled already or lost, or left to the handler's own
    // transaction. A count alone ("0 attempt(s) failed") would not say why.
    const failed = this.#failedNow;
    const timedOut = this.#timedOutAlready;
    const settledOrLost = this.#settledOrLost;
    const ownTransaction = this.#leftToOwnTransaction;
    const parts = [
      [
        failed,
        "attempt(s) failed (retried, dead-lettered, or removed if its job's cancel was requested, as for any failure)",
      ],
      [
        timedOut,
        "attempt(s) had already failed as timed out (timeoutMs) and were not failed again",
      ],
      [
        settledOrLost,
        "job(s) had been settled already or their claim lost (cancelled, or its lease ran out), so nothing was written for them",
      ],
      [
        ownTransaction,
        "wait for the handler's own transaction that settles the job (its attempt fails only if that fails)",
      ],
    ] as const;
    logger.warn(
      `worker: ${left.length} handler(s) of queue "${queueName}" still running ${timeoutMs} ms ` +
        "after the shutdown began were abandoned (shutdownTimeoutMs): " +
        parts
          .filter(([count]) => count > 0)
          .map(([count, what]) => `${count} ${what}`)
          .join(", ") +
        "; a late return or throw is ignored",
      { queue: queueName, abandoned: left.length, failed, timedOut, settledOrLost, ownTransaction },
    );
  }
}
