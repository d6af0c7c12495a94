/**
 * The producer hold: how far producers may run ahead of the checkpoint
 * being written. The checkpointer tells it when a checkpoint starts, commits
 * or fails; it decides whether producers go ahead, parks those it holds, and
 * times out a hold on the injected clock.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import type { Logger } from "../logger.js";
import { type Deferred, deferred } from "./deferred.js";

/**
 * While a checkpoint is being written, the WAL since the newest committed
 * one may reach this many times the record bound; producers waiting on
 * `whenWritable` are held past it until the checkpoint ends. Without it, a
 * crash during a checkpoint of a large state under a bulk load left the
 * bound plus everything appended while the checkpoint was encoded and
 * written (288,000–408,000 records at a million live jobs, against a bound
 * of 125,000) for the next open to replay.
 */
export const LAG_BOUNDS = 2;

/**
 * How long one checkpoint may hold producers: twice the newest committed
 * checkpoint's duration (encode, seal, put, commit), within these limits. A
 * checkpoint that takes longer than that is late (a slow or retrying store,
 * whose retry window is up to two minutes by default), and holding producers
 * for it would stop the write path for no durability gain: producers then go
 * ahead and the tail grows past the bound until it ends. The floor covers
 * the first checkpoint of a process (no duration known) and noise at small
 * states; the ceiling keeps one slow checkpoint from raising the next hold.
 * Once a committed checkpoint took the ceiling or longer, producers are not
 * held at all until one is faster: a hold could not cover such a checkpoint.
 */
export const MIN_HOLD_MS = 1_000;
/** See {@link MIN_HOLD_MS}. */
export const MAX_HOLD_MS = 10_000;

/** What the hold reads of the log it guards, each time it is asked. */
export interface HeldLog {
  /** Records appended (durable or not) that the newest committed checkpoint does not cover. */
  recordsPastCheckpoint(): number;
  /** Records since the last checkpoint past which the next one is due. */
  recordBound(): number;
  /** Whether the log is closing: nothing is held then. */
  closing(): boolean;
}

export interface ProducerHoldInit {
  clock: MonotonicClock;
  logger: Logger;
  /** The log, as warnings name it. */
  describeLog: string;
  log: HeldLog;
}

/**
 * Holds producers while a checkpoint is being written and the WAL since the
 * newest committed one is past {@link LAG_BOUNDS} times the record bound, so
 * a crash mid-checkpoint leaves a bounded tail to replay. It gives way:
 *
 * - after a failed checkpoint, until one commits (the coverage does not
 *   move, so every retry would hold producers for the store's retry window);
 * - once the checkpoint being written has held them for twice the newest
 *   committed checkpoint's duration, clamped to {@link MIN_HOLD_MS}–
 *   {@link MAX_HOLD_MS} of the injected clock (a late checkpoint);
 * - not at all once a committed checkpoint took {@link MAX_HOLD_MS} or more.
 *
 * Each run of late or failed checkpoints logs one warning line, not one per
 * checkpoint. Claims and settlements are never held (they do not ask).
 */
export class ProducerHold {
  readonly #clock: MonotonicClock;
  readonly #logger: Logger;
  readonly #describe: string;
  readonly #log: HeldLog;

  /** A checkpoint is being written: the WAL since the committed one is what a crash would leave. */
  #writing = false;
  /** Monotonic time the checkpoint being written started. */
  #started = 0;
  /** Producers held back by {@link allows} until the checkpoint being written ends. */
  #waiters: Deferred<void>[] = [];
  /**
   * A checkpoint failed and none committed since: producers are not held
   * (the coverage does not move, so every attempt would hold them for the
   * store's retry window).
   */
  #suspended = false;
  /** Ends the current hold after its longest allowed duration (null: not holding). */
  #timer: TimerHandle | null = null;
  /** The checkpoint being written held producers for as long as one may: they go ahead. */
  #expired = false;
  /** How long (ms) the newest committed checkpoint took, or null before the first. */
  #lastCheckpointMs: number | null = null;
  /** A "late" warning was logged and no checkpoint has since ended within its hold limit. */
  #lateWarned = false;
  /** The log failed (fenced, say): nothing is held any more, and waiting rejects with this. */
  #failure: Error | null = null;

  constructor(init: ProducerHoldInit) {
    this.#clock = init.clock;
    this.#logger = init.logger;
    this.#describe = init.describeLog;
    this.#log = init.log;
  }

  /**
   * Whether a producer may append now: always, unless a checkpoint is being
   * written and the records past the newest committed one exceed
   * {@link LAG_BOUNDS} times the record bound. Asking while it does not
   * starts the hold's timer (see {@link MIN_HOLD_MS}).
   */
  allows(): boolean {
    if (this.#failure !== null) return true; // the log refuses writes itself; no hold to time
    if (!this.#writing || this.#log.closing() || this.#suspended || this.#expired) return true;
    // Checkpoints that take longer than any hold may last: holding for one buys no bound.
    if (this.#lastCheckpointMs !== null && this.#lastCheckpointMs >= MAX_HOLD_MS) return true;
    if (this.#log.recordsPastCheckpoint() <= LAG_BOUNDS * this.#log.recordBound()) return true;
    if (this.#timer === null) {
      const limit = this.limitMs();
      this.#timer = startTimer(this.#clock, limit, () => {
        this.#timer = null;
        this.#expired = true;
        // One line per run of late checkpoints, not one per checkpoint.
        if (!this.#lateWarned) {
          this.#lateWarned = true;
          this.#logger.warn("checkpoint is late: producers are no longer held for it", {
            log: this.#describe,
            heldMs: limit,
          });
        }
        this.#release();
      });
    }
    return false;
  }

  /**
   * Resolves once {@link allows} (the checkpoint being written ended, or the
   * hold timed out); rejects once the log failed.
   */
  whenAllows(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.allows()) return Promise.resolve();
    const waiter = deferred<void>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /** The longest the next hold may last (see {@link MIN_HOLD_MS}). */
  limitMs(): number {
    const last = this.#lastCheckpointMs ?? 0;
    return Math.min(MAX_HOLD_MS, Math.max(MIN_HOLD_MS, 2 * last));
  }

  /** A checkpoint starts being written (its duration is measured from now). */
  checkpointStarted(): void {
    this.#writing = true;
    this.#started = this.#clock.monotonicNow();
  }

  /** The checkpoint being written committed: its duration sets the next hold's limit; holding resumes. */
  checkpointCommitted(): void {
    this.#lastCheckpointMs = this.#clock.monotonicNow() - this.#started;
    this.#suspended = false;
    if (!this.#expired) this.#lateWarned = false;
    this.#end();
  }

  /**
   * The checkpoint being written failed and the log goes on: producers are
   * not held again until one commits. A failed one is retried after a later
   * durable batch, which they are needed to write, and would hold them again
   * for as long as the store keeps refusing.
   */
  checkpointFailed(): void {
    if (!this.#suspended) {
      this.#suspended = true;
      this.#logger.warn(
        "checkpoint failed: producers are not held for checkpoints until one commits",
        { log: this.#describe },
      );
    }
    this.#end();
  }

  /** The checkpoint being written ended without committing because the log is done (fenced or failed). */
  checkpointAbandoned(): void {
    this.#end();
  }

  /**
   * The log failed: every held producer rejects with `error`, and the hold's
   * timer stops (a checkpoint of a failed log is not late, it is abandoned).
   */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#timer?.cancel();
    this.#timer = null;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  /** The checkpoint being written ended, however: producers held go ahead. */
  #end(): void {
    this.#writing = false;
    this.#timer?.cancel();
    this.#timer = null;
    this.#expired = false;
    this.#release();
  }

  #release(): void {
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }
}
