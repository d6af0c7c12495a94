/**
 * Progress of a long command for people: on a terminal, one line redrawn in
 * place with a bar (`\r` and erase-to-end-of-line, at most every
 * {@link ProgressOptions.redrawMs}); anywhere else (a pipe, a file, CI logs),
 * plain lines at most every {@link ProgressOptions.lineMs}, with no control
 * characters. Writes through the command's `CliIO`, so tests capture it.
 */
import type { CliIO } from "./io.js";

/** How a {@link Progress} reports. */
export interface ProgressOptions {
  /** What is being done, first on every line ("Requeueing dead jobs"). */
  label: string;
  /** How many units make 100 %; `undefined` when not known (no bar, just the count). */
  total?: number;
  /**
   * Milliseconds between redraws of the bar on a terminal.
   * @default 100
   */
  redrawMs?: number;
  /**
   * Milliseconds between plain lines when not on a terminal.
   * @default 1000
   */
  lineMs?: number;
  /**
   * Monotonic time in milliseconds, for the two intervals.
   * @default performance.now
   */
  now?: () => number;
}

/** Cells of the bar, at most (fewer on a narrow terminal). */
const BAR_WIDTH = 30;
const FULL = "█";
const EMPTY = "░";
const ERASE_TO_END = "\u001b[K";

export class Progress {
  readonly #io: CliIO;
  readonly #label: string;
  #total: number | undefined;
  readonly #redrawMs: number;
  readonly #lineMs: number;
  readonly #now: () => number;
  #done = 0;
  #detail = "";
  /** When the last output was written; `undefined` before the first. */
  #shownAt: number | undefined;
  #finished = false;
  /** The line last written. */
  #shown: string | undefined;

  constructor(io: CliIO, options: ProgressOptions) {
    this.#io = io;
    this.#label = options.label;
    this.#total = options.total;
    this.#redrawMs = options.redrawMs ?? 100;
    this.#lineMs = options.lineMs ?? 1_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** `done` units are done now (`detail` is shown after the count); shown when an interval passed. */
  update(done: number, detail = ""): void {
    if (this.#finished) return;
    this.#done = done;
    this.#detail = detail;
    const now = this.#now();
    const interval = this.#io.interactive ? this.#redrawMs : this.#lineMs;
    if (this.#shownAt !== undefined && now - this.#shownAt < interval) return;
    this.#shownAt = now;
    this.#show();
  }

  /** The total became known (or changed). */
  setTotal(total: number | undefined): void {
    this.#total = total;
  }

  /** Shows the final state (a terminal's line is ended); later updates are ignored. */
  finish(done = this.#done, detail = this.#detail): void {
    if (this.#finished) return;
    this.#done = done;
    this.#detail = detail;
    this.#show();
    if (this.#io.interactive) this.#io.out("\n");
    this.#finished = true;
  }

  #show(): void {
    const line = this.#line(this.#io.interactive);
    // The same line again (a finish right after the last update) adds nothing.
    if (line === this.#shown) return;
    this.#shown = line;
    if (this.#io.interactive) this.#io.out(`\r${line}${ERASE_TO_END}`);
    else this.#io.out(`${line}\n`);
  }

  /** The progress line: label, bar (on a terminal, when the total is known), percentage, count, detail. */
  #line(bar: boolean): string {
    const total = this.#total;
    const parts = [this.#label];
    if (total !== undefined && total > 0) {
      const share = Math.min(1, Math.max(0, this.#done / total));
      if (bar) {
        const columns = this.#io.columns ?? 80;
        // Leave room for the label and the numbers; never fewer than 10 cells.
        const width = Math.max(10, Math.min(BAR_WIDTH, columns - this.#label.length - 40));
        const full = Math.floor(share * width);
        parts.push(`${FULL.repeat(full)}${EMPTY.repeat(width - full)}`);
      }
      parts.push(`${String(Math.floor(share * 100)).padStart(3)}%`, `${this.#done}/${total}`);
    } else parts.push(String(this.#done));
    if (this.#detail !== "") parts.push(this.#detail);
    return parts.join("  ");
  }
}
