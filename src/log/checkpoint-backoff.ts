/**
 * The backoff of background checkpoints after failures: how long the
 * checkpoint policy waits, on the injected clock, before trying again, and
 * the one warning per run of failures.
 */
import type { MonotonicClock } from "../clock.js";
import type { Logger } from "../logger.js";

/**
 * The wait after the first background checkpoint of a run of failures; it
 * doubles with each further failure up to {@link MAX_CHECKPOINT_BACKOFF_MS}.
 * Without it a store that refuses checkpoints was asked again after every
 * durable batch, each attempt taking a new snapshot (re-encoding the whole
 * state) only to be refused.
 */
export const FIRST_CHECKPOINT_BACKOFF_MS = 1_000;
/** The longest wait between two background attempts while checkpoints fail. */
export const MAX_CHECKPOINT_BACKOFF_MS = 60_000;

export interface CheckpointBackoffInit {
  clock: MonotonicClock;
  logger: Logger;
  /** The log, as warnings name it. */
  describeLog: string;
}

/**
 * Spaces out background checkpoints while they fail: after a failure none
 * starts for {@link FIRST_CHECKPOINT_BACKOFF_MS}, then twice that after each
 * further failure, up to {@link MAX_CHECKPOINT_BACKOFF_MS}; a checkpoint that
 * commits (background or asked for) ends the run. The WAL is not affected:
 * it holds every acknowledged record whether or not checkpoints commit.
 * The first failure of a run logs one warning line.
 */
export class CheckpointBackoff {
  readonly #clock: MonotonicClock;
  readonly #logger: Logger;
  readonly #describe: string;
  /** The current wait (ms); 0 while no background checkpoint failed since one committed. */
  #delayMs = 0;
  /** Monotonic time before which no background checkpoint starts. */
  #retryAt = Number.NEGATIVE_INFINITY;

  constructor(init: CheckpointBackoffInit) {
    this.#clock = init.clock;
    this.#logger = init.logger;
    this.#describe = init.describeLog;
  }

  /** Whether a background checkpoint may start now. */
  allows(): boolean {
    return this.#clock.monotonicNow() >= this.#retryAt;
  }

  /** A background checkpoint failed (and the log goes on): the next waits longer. */
  failed(error: unknown): void {
    const first = this.#delayMs === 0;
    this.#delayMs = first
      ? FIRST_CHECKPOINT_BACKOFF_MS
      : Math.min(MAX_CHECKPOINT_BACKOFF_MS, 2 * this.#delayMs);
    this.#retryAt = this.#clock.monotonicNow() + this.#delayMs;
    // One line per run of failures: a refusing store fails every attempt.
    if (first)
      this.#logger.warn(
        "background checkpoint failed; retried after a backoff of 1 s doubling to 60 s, logged again once one commits",
        { log: this.#describe, error: String(error), retryInMs: this.#delayMs },
      );
  }

  /** A checkpoint committed: the next is due by the usual policy alone. */
  committed(): void {
    this.#delayMs = 0;
    this.#retryAt = Number.NEGATIVE_INFINITY;
  }
}
