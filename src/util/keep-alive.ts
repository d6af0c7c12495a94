/**
 * Keeping the process alive while a caller waits on the queue. The queue's
 * own timers are unref'd (an idle queue never holds a process open), so a
 * script whose only pending work is a wait (`claim(queue, { waitMs })`)
 * would otherwise exit before the wait ends. While at least one such wait is
 * out, this holds one ref'd interval that does nothing.
 */
export class KeepAlive {
  #holders = 0;
  #handle: ReturnType<typeof setInterval> | null = null;

  /** One more wait is out. */
  acquire(): void {
    if (this.#holders++ === 0) this.#handle = setInterval(() => {}, 2 ** 30);
  }

  /** A wait ended (call once per {@link acquire}). */
  release(): void {
    if (this.#holders === 0) return;
    if (--this.#holders === 0 && this.#handle !== null) {
      clearInterval(this.#handle);
      this.#handle = null;
    }
  }
}
