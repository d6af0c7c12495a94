import { performance } from "node:perf_hooks";
import { LatencyRecorder } from "./latency.js";

/** Counters and latencies of one time window. */
export class Window {
  enqueued = 0;
  done = 0;
  readonly e2e = new LatencyRecorder();
  readonly claim = new LatencyRecorder();
}

/**
 * Splits a run into fixed-length windows (default one second) so a report can
 * show how rate, latency and backlog evolve, not just their totals.
 */
export class WindowSeries {
  readonly #startMs: number;
  readonly #windowMs: number;
  readonly #windows: Window[] = [];

  constructor(windowMs = 1_000, startMs = performance.now()) {
    this.#windowMs = windowMs;
    this.#startMs = startMs;
  }

  /** The window that holds time `atMs` (default now). */
  at(atMs = performance.now()): Window {
    const index = Math.max(0, Math.floor((atMs - this.#startMs) / this.#windowMs));
    while (this.#windows.length <= index) this.#windows.push(new Window());
    return this.#windows[index] as Window;
  }

  /** One row per window, with `backlog` = jobs enqueued but not done at its end. */
  rows(): Record<string, number>[] {
    let backlog = 0;
    return this.#windows.map((w, i) => {
      backlog += w.enqueued - w.done;
      const e2e = w.e2e.summary();
      return {
        second: ((i + 1) * this.#windowMs) / 1_000,
        enqueued: w.enqueued,
        done: w.done,
        e2eP50Ms: round(e2e.p50),
        e2eP99Ms: round(e2e.p99),
        claimP99Ms: round(w.claim.summary().p99),
        backlog,
      };
    });
  }
}

export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
