/**
 * Owns how long-running work shares the host's event loop: it runs in slices
 * of a few milliseconds and gives the loop a turn between them, so timers,
 * I/O and the host's own requests never wait behind taquba for long.
 *
 * Slices are CPU budgets, not behaviour: they read the process's monotonic
 * clock (`performance.now()`), never the injected `Clock`.
 */
import { performance } from "node:perf_hooks";

/** How long one slice of background work may run before it yields. */
export const SLICE_MS = 4;

/** Resolves after the event loop had a turn (timers and I/O ran). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The time budget of one slice: started, then asked whether it ran out. */
export class SliceBudget {
  readonly #ms: number;
  #deadline = 0;

  constructor(ms = SLICE_MS) {
    this.#ms = ms;
  }

  /** Starts a new slice. */
  start(): void {
    this.#deadline = performance.now() + this.#ms;
  }

  /** Whether the current slice used up its budget. */
  spent(): boolean {
    return performance.now() >= this.#deadline;
  }
}

/** Bytes checksummed (or copied) per slice: a few milliseconds on a slow core. */
export const BYTES_PER_SLICE = 4 * 1024 * 1024;
