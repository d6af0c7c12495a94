/**
 * The writer's keep-alive: holds the process open while appends wait to
 * become durable (the clock's timers never do). One handle, ref'd while busy
 * and unref'd when idle, so a busy log does not create and clear a timer per
 * batch.
 */

import { refTimer, unrefTimer } from "../util/timers.js";
export class KeepAlive {
  #handle: NodeJS.Timeout | null = null;
  #holding = false;

  /** Whether it currently holds the process open. */
  get holding(): boolean {
    return this.#holding;
  }

  hold(): void {
    this.#holding = true;
    if (this.#handle === null) this.#handle = setInterval(() => {}, 1 << 30);
    else refTimer(this.#handle);
  }

  release(): void {
    if (!this.#holding) return;
    this.#holding = false;
    if (this.#handle !== null) unrefTimer(this.#handle);
  }

  /** Releases it and clears the handle for good. */
  stop(): void {
    this.release();
    if (this.#handle !== null) clearInterval(this.#handle);
    this.#handle = null;
  }
}
