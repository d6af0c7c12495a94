/**
 * The backoff of background checkpoints after failures: when the checkpoint
 * policy may try again (after a wait on the injected clock, or sooner once
 * enough records piled up), and the one warning per run of failures.
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
/**
 * The most record bounds a run of failures lets the WAL grow by, past a
 * failed attempt, before the next is tried however long the wait has left:
 * one bound after the first failure, twice the last after each further one,
 * up to this many. Without it, a store that recovered early in a minute's
 * wait got no checkpoint until the wait ended, while the tail grew at the
 * full ingest rate. With it, the tail grows by at most this many bounds
 * (a million records at the default bound of 125,000, about 1.5 s of
 * replay) past the last failure. A store that keeps refusing re-encodes the
 * state once per this many bounds of records (or per wait), not once per
 * batch: under load, an eighth as often as a healthy log (once per bound).
 */
export const MAX_CHECKPOINT_BACKOFF_BOUNDS = 8;

export interface CheckpointBackoffInit {
  clock: MonotonicClock;
  logger: Logger;
  /** The log, as warnings name it. */
  describeLog: string;
}

/**
 * Spaces out background checkpoints while they fail. After a failure none
 * starts for {@link FIRST_CHECKPOINT_BACKOFF_MS}, then twice that after each
 * further failure, up to {@link MAX_CHECKPOINT_BACKOFF_MS}; or sooner, once
 * the durable records since the failure pass the record bound, then twice
 * that after each further failure, up to {@link MAX_CHECKPOINT_BACKOFF_BOUNDS}
 * bounds. A checkpoint that commits (background or asked for) ends the run.
 * The WAL is not affected: it holds every acknowledged record whether or not
 * checkpoints commit. The first failure of a run logs one warning line.
 */
export class CheckpointBackoff {
  readonly #clock: MonotonicClock;
  readonly #logger: Logger;
  readonly #describe: string;
  /** The current wait (ms); 0 while no background checkpoint failed since one committed. */
  #delayMs = 0;
  /** Record bounds the current run lets the WAL grow by past the last failure; 0 outside a run. */
  #bounds = 0;
  /** Monotonic time before which no background checkpoint starts. */
  #retryAt = Number.NEGATIVE_INFINITY;
  /** Durable records (cumulative) past which a background checkpoint starts however long the wait has left. */
  #retryPastRecords = Number.NEGATIVE_INFINITY;

  constructor(init: CheckpointBackoffInit) {
    this.#clock = init.clock;
    this.#logger = init.logger;
    this.#describe = init.describeLog;
  }

  /**
   * Whether a background checkpoint may start now, with `durableRecords`
   * (cumulative, as the writer counts them) durable: the wait ran out, or
   * the records since the last failure passed its threshold.
   */
  allows(durableRecords: number): boolean {
    return this.#clock.monotonicNow() >= this.#retryAt || durableRecords > this.#retryPastRecords;
  }

  /**
   * A background checkpoint failed (and the log goes on) with
   * `durableRecords` durable and a record bound of `recordBound`: the next
   * waits longer, and needs more records to start early.
   */
  failed(error: unknown, durableRecords: number, recordBound: number): void {
    const first = this.#delayMs === 0;
    this.#delayMs = first
      ? FIRST_CHECKPOINT_BACKOFF_MS
      : Math.min(MAX_CHECKPOINT_BACKOFF_MS, 2 * this.#delayMs);
    this.#bounds = first ? 1 : Math.min(MAX_CHECKPOINT_BACKOFF_BOUNDS, 2 * this.#bounds);
    this.#retryAt = this.#clock.monotonicNow() + this.#delayMs;
    this.#retryPastRecords = durableRecords + this.#bounds * recordBound;
    // One line per run of failures: a refusing store fails every attempt.
    if (first)
      this.#logger.warn(
        `background checkpoint failed; retried after ${seconds(FIRST_CHECKPOINT_BACKOFF_MS)} ` +
          `doubling to ${seconds(MAX_CHECKPOINT_BACKOFF_MS)}, or sooner once the WAL grew ` +
          `by the record bound doubling to ${MAX_CHECKPOINT_BACKOFF_BOUNDS} times it; ` +
          "logged again once one commits",
        {
          log: this.#describe,
          error: String(error),
          retryInMs: this.#delayMs,
          retryInRecords: this.#bounds * recordBound,
        },
      );
  }

  /** A checkpoint committed: the next is due by the usual policy alone. */
  committed(): void {
    this.#delayMs = 0;
    this.#bounds = 0;
    this.#retryAt = Number.NEGATIVE_INFINITY;
    this.#retryPastRecords = Number.NEGATIVE_INFINITY;
  }
}

function seconds(ms: number): string {
  return `${ms / 1_000} s`;
}
