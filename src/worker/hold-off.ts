/**
 * The worker's backstop against claiming in a loop. A claim that turns out
 * not startable is released, and its slot claims again at once: right for a
 * claim the queue itself ended (its lease lost, its job cancelled, the queue
 * closed; its signal says so) or one whose queue was paused. A claim that is
 * not startable though the queue holds it live has no such reason, and its
 * release makes the same job claimable again at once: claiming straight
 * away would take it again, and again, a core busy with no handler run.
 * After such a claim no claim is asked for until a wait on the queue's clock
 * ends, and the first of them is logged as one warning.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import type { Logger } from "../logger.js";
import type { Queue } from "../queue/queue.js";
import type { Claim } from "../queue/types.js";

/** What a {@link ClaimHoldOff} needs of its worker. */
export interface HoldOffOptions {
  queue: Queue;
  queueName: string;
  /** The clock the queue's timers run on. */
  clock: MonotonicClock;
  logger: Logger;
  /** The first wait; each unexplained claim in a row doubles it, up to {@link maxWaitMs}. */
  firstWaitMs: number;
  maxWaitMs: number;
  /** Called when a wait ends: the worker may claim again. */
  ended: () => void;
}

export class ClaimHoldOff {
  readonly #options: HoldOffOptions;
  #timer: TimerHandle | null = null;
  /** Waits started since a handler last started. */
  #inARow = 0;

  constructor(options: HoldOffOptions) {
    this.#options = options;
  }

  /** Whether the worker must not claim now. */
  get active(): boolean {
    return this.#timer !== null;
  }

  /**
   * `claim` was found not startable, its queue not paused: unless the queue
   * says why (its signal aborted), hold claims off. Ask before releasing it:
   * the release ends the claim, and its signal then aborts whatever the cause.
   */
  notStartable(claim: Claim): void {
    const o = this.#options;
    if (this.#timer !== null || claimEnded(o.queue, claim)) return;
    const waitMs = Math.min(o.firstWaitMs * 2 ** Math.min(this.#inARow, 20), o.maxWaitMs);
    if (this.#inARow++ === 0)
      o.logger.warn(
        `worker: job ${claim.id} of queue "${o.queueName}" was claimed but could not be started, ` +
          "though the queue holds its claim live and the queue is not paused; it was released, " +
          `and the worker claims again only after ${waitMs} ms (longer each time this recurs). ` +
          "Two copies of taquba's modules loaded in one process can cause this",
        { jobId: claim.id, queue: o.queueName },
      );
    this.#wait(o.clock.monotonicNow() + waitMs);
  }

  /**
   * Waits until `untilMs` in slices of the first wait. The worker ends the
   * wait itself when the queue closes or fails (see `onQueueStopped`); a
   * queue of a build that cannot tell it so is noticed at the next slice,
   * not only when a wait of up to a minute ends.
   */
  #wait(untilMs: number): void {
    const o = this.#options;
    const leftMs = untilMs - o.clock.monotonicNow();
    // Slices of at least 100 ms: a 1 ms poll interval must not mean a timer per millisecond.
    this.#timer = startTimer(o.clock, Math.min(leftMs, Math.max(o.firstWaitMs, 100)), () => {
      this.#timer = null;
      if (o.queue.closed || o.clock.monotonicNow() >= untilMs) o.ended();
      else this.#wait(untilMs);
    });
  }

  /** A handler started: the next unexplained claim waits the first wait again. */
  started(): void {
    this.#inARow = 0;
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }
}

/**
 * Whether the queue itself says `claim` can no longer run: its signal
 * aborted (its lease was lost, its job cancelled, or the queue closed).
 * `false` from a queue that cannot say.
 */
function claimEnded(queue: Queue, claim: Claim): boolean {
  try {
    return queue.claimSignal(claim).aborted;
  } catch {
    return false;
  }
}
