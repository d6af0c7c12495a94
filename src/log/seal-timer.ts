/**
 * When the writer looks at its open batch again: after `flushIntervalMs`
 * (the batching window of an idle log, when one is set), or after the current
 * turn of the event loop, so that records appended together share a batch.
 * The writer decides which; this owns the timer and the immediate, and
 * cancels both.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import { cancelTurn, turnLater } from "../util/timers.js";

export class SealTimer {
  #window: TimerHandle | null = null;
  #kick: NodeJS.Immediate | null = null;

  constructor(
    readonly clock: MonotonicClock,
    /** Called when the window ends: seal the open batch. */
    readonly onWindowEnd: () => void,
    /** Called after the current turn: seal the open batch if it is due. */
    readonly onTurnEnd: () => void,
  ) {}

  /** Whether a batching window is running (the batch waits for it). */
  get windowOpen(): boolean {
    return this.#window !== null;
  }

  /** Starts a window of `ms`, unless one is running. */
  openWindow(ms: number): void {
    this.#window ??= startTimer(this.clock, ms, () => {
      this.#window = null;
      this.onWindowEnd();
    });
  }

  /** Calls `onTurnEnd` after the current turn of the event loop (once, however often asked). */
  afterTurn(): void {
    this.#kick ??= turnLater(() => {
      this.#kick = null;
      this.onTurnEnd();
    });
  }

  cancel(): void {
    this.#window?.cancel();
    this.#window = null;
    if (this.#kick !== null) cancelTurn(this.#kick);
    this.#kick = null;
  }
}
