/**
 * Settling the jobs a worker ran: ack, nack or dead-letter from the handler's
 * outcome (or a release of a claim it did not start), tracked until durable, and what a failed settlement is reported
 * as — one line for a lost claim, nothing for a claim the handler settled
 * itself, nothing per job for a failure of the whole queue (the worker ends
 * with that failure instead).
 */
import { taqubaErrorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Queue } from "../queue/queue.js";
import type { Claim } from "../queue/types.js";
import { MAX_MESSAGE_BYTES, truncateUtf8 } from "../queue/validate.js";
import {
  ackTaken,
  claimSettledAlready,
  nackTimedOut,
  queueFailure,
} from "../queue/worker-hooks.js";
import { messageOf } from "../util/message.js";
import { isPermanentFailure } from "./permanent-failure.js";

/** Issued but not yet durable settlements before the worker stops claiming. */
export const MAX_UNSETTLED = 4_096;

/** How a handler ended: returned (with the result its value makes, if any) or threw. */
export type Outcome =
  | { ok: true; result: Uint8Array | string | undefined }
  | { ok: false; error: unknown };

/** The options of an ack without a result (never changed). */
const NO_OPTIONS = Object.freeze({});

/** Runs a settlement call; a synchronous throw becomes a rejection. */
function settleSafely(settle: () => Promise<void>): Promise<void> {
  try {
    return settle();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Settlements awaiting durability. A job's slot frees when its handler ends;
 * its settlement is issued in the next turn of the event loop (the queue
 * applies it at once) and goes in the same write as the claim for the freed
 * slots, so throughput is not capped at one job per slot and commit round-trip.
 */
export class Settlements {
  readonly #queue: Queue;
  readonly #logger: Logger;
  readonly #onSettled: () => void;
  /** Settlements issued and not yet ended. */
  #pending = 0;
  /** A call of `onSettled` is queued for the settlements that ended in this microtask burst. */
  #settledQueued = false;
  /** Resolves {@link drain} once `#pending` is back at 0. */
  #drained: (() => void) | null = null;
  /** The first failure of the whole queue a settlement met (`FencedError`, `StorageError`). */
  failure: unknown = null;
  /** Settlements refused because the queue closed under the worker. */
  refusedByClose = 0;
  /** Settlements that failed with the failure of the whole queue. */
  failedByQueue = 0;
  /** Timed-out attempts not failed because the queue had closed (see `settleTimedOut`). */
  timedOutAtClose = 0;

  constructor(queue: Queue, logger: Logger, onSettled: () => void) {
    this.#queue = queue;
    this.#logger = logger;
    this.#onSettled = onSettled;
  }

  get size(): number {
    return this.#pending;
  }

  /**
   * Settle `claim` from its handler's outcome: success acks (with its result,
   * if any). Resolves once the settlement is durable; rejects if it fails
   * (which is already reported: a caller only uses it for timing).
   */
  settle(claim: Claim, outcome: Outcome): Promise<void> {
    let settlement: Promise<void>;
    if (outcome.ok && outcome.result === undefined) {
      try {
        settlement = this.#queue.ack(claim, NO_OPTIONS);
      } catch (error) {
        settlement = Promise.reject(error);
      }
    } else if (outcome.ok) {
      const result = outcome.result as Uint8Array | string; // not undefined: see above
      // Bytes are the run's own copy, taken when the handler returned: not copied again.
      settlement = settleSafely(() => ackTaken(this.#queue, claim, result)).catch(
        (error: unknown) => {
          // A result the queue refuses (too large) leaves the claim live: fail the
          // attempt with the reason now, rather than leave it to run out its lease.
          if (taqubaErrorCode(error) !== "INVALID_ARGUMENT") throw error;
          const message = `the handler's return value cannot be stored as its result: ${(error as Error).message}`;
          return this.#queue.nack(claim, truncateUtf8(message, MAX_MESSAGE_BYTES));
        },
      );
    } else {
      const message = truncateUtf8(messageOf(outcome.error), MAX_MESSAGE_BYTES);
      settlement = isPermanentFailure(outcome.error)
        ? this.#queue.deadLetter(claim, message)
        : this.#queue.nack(claim, message);
    }
    this.#track(claim, settlement);
    return settlement;
  }

  /**
   * Fail `claim`'s attempt as timed out (its handler passed the job's
   * `timeoutMs`), with `message`; with `settling` (the handler's own
   * transactions that settle the job, in flight), once they ended and only
   * if none settled it. Tracked from now on, as {@link settleAbandoned}.
   * If the queue closed meanwhile, nothing is written (see `#leftToNextOpen`).
   */
  settleTimedOut(claim: Claim, message: string, settling: Promise<boolean> | null): void {
    this.#fail(
      claim,
      settling === null
        ? message
        : settling.then((settled) => (settled || this.#leftToNextOpen() ? null : message)),
      (text) => nackTimedOut(this.#queue, claim, text),
    );
  }

  /**
   * Whether the queue was closed (not failed) while a timed-out attempt
   * waited for the handler's own transaction: then nothing is written for
   * it (as for a run abandoned at the shutdown deadline once the queue had
   * closed), and the next open
   * handles its claim as one the close interrupted. Counted for the worker's
   * closing line.
   */
  #leftToNextOpen(): boolean {
    if (!this.#queue.closed || queueFailure(this.#queue) !== null) return false;
    this.timedOutAtClose++;
    return true;
  }

  /**
   * Fail `claim`'s attempt with `message`: its handler was abandoned at the
   * worker's shutdown deadline, still running (see `shutdownTimeoutMs`).
   * Given as a promise (the handler's own settling transaction is awaited
   * first), the nack is issued once it resolves, and not at all for `null`;
   * tracked from now on, so {@link drain} waits for it either way.
   */
  settleAbandoned(claim: Claim, message: string | Promise<string | null>): void {
    this.#fail(claim, message, (text) => this.#queue.nack(claim, text));
  }

  /**
   * Fail `claim`'s attempt by `nack` with `message`, now or, given as a
   * promise, once it resolves (not at all for `null`); tracked from now on.
   */
  #fail(
    claim: Claim,
    message: string | Promise<string | null>,
    nack: (text: string) => Promise<void>,
  ): void {
    const fail = (text: string): Promise<void> => settleSafely(() => nack(text));
    this.#track(
      claim,
      typeof message === "string"
        ? fail(message)
        : message.then((text) => (text === null ? undefined : fail(text))),
    );
  }

  /** Give back `claim`, on which no handler ran (pending again, its attempt not counted). */
  release(claim: Claim): void {
    this.#track(claim, this.#queue.release(claim));
  }

  /**
   * Give back `claim` of a worker that fails because its claims are not its
   * queue's (see `isStartable`): released if the queue takes it, else left
   * to its lease. A failure is not reported: the worker's error says why.
   */
  giveBack(claim: Claim): void {
    this.#track(
      claim,
      settleSafely(() => this.#queue.release(claim)).catch(() => {}),
    );
  }

  #track(claim: Claim, settlement: Promise<void>): void {
    // One reaction per settlement (not a catch and a finally, each a promise of its own).
    this.#pending++;
    settlement.then(
      () => this.#ended(),
      (error: unknown) => {
        try {
          this.#failed(claim, error);
        } finally {
          this.#ended();
        }
      },
    );
  }

  #ended(): void {
    if (--this.#pending === 0 && this.#drained !== null) {
      this.#drained();
      this.#drained = null;
    }
    // Settlements that went in one write end together, each in a microtask of its own: the
    // worker is told once, after all of them (one call per settlement was a pump per job).
    if (this.#settledQueued) return;
    this.#settledQueued = true;
    // A reaction, as the call was before: a throw in it is a rejection, not an uncaught exception.
    void Promise.resolve().then(this.#notifySettled);
  }

  readonly #notifySettled = (): void => {
    this.#settledQueued = false;
    this.#onSettled();
  };

  /** Resolves once every settlement issued so far ended. */
  drain(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.#drained;
      this.#drained =
        before === null
          ? resolve
          : () => {
              before();
              resolve();
            };
    });
  }

  #failed(claim: Claim, error: unknown): void {
    // By code, not instanceof: the queue may be of the package's other build.
    const code = taqubaErrorCode(error);
    if (code === "CLAIM_LOST") {
      // The handler settled its own job (`queue.ack(job)` and the like): nothing was lost.
      if (claimSettledAlready(this.#queue, claim)) return;
      this.#logger.warn(
        `worker: job ${claim.id} of queue "${claim.queue}" lost its claim before it was settled ` +
          "(its lease ran out or it was cancelled); the queue retries or removes it as for an expired lease",
        { jobId: claim.id, queue: claim.queue },
      );
    } else if (code === "CLOSED") this.refusedByClose++;
    else if (code === "FENCED" || code === "STORAGE") {
      this.failedByQueue++;
      this.failure ??= error;
    } else
      this.#logger.warn(`worker: settling job ${claim.id} failed: ${messageOf(error)}`, {
        jobId: claim.id,
        queue: claim.queue,
        error,
      });
  }
}
