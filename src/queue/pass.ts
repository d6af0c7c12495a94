/**
 * Passes that work in slices (the scheduler's, the reaper's): bounded work
 * per turn of the event loop, one pass at a time.
 */
import { nextTurn } from "../util/slices.js";

function noop(): void {}

/**
 * A background pass that works in slices (the scheduler's, the reaper's):
 * the first slice runs at once, each further one after a turn of the event
 * loop. One pass at a time: a call while one runs joins it (it then goes
 * round once more, so the caller's request is served). The promise resolves
 * once the pass's writes are durable.
 */
export class Pass {
  #running: Promise<void> | null = null;
  #again = false;
  readonly #start: () => void;

  /** `start` runs before the first slice of each new pass (not when a call joins one under way). */
  constructor(start: () => void = noop) {
    this.#start = start;
  }

  /** `slice(written)` does one bounded slice synchronously and tells whether work remains. */
  run(slice: (written: Promise<void>[]) => boolean): Promise<void> {
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#start();
    const written: Promise<void>[] = [];
    if (!slice(written)) return Promise.all(written).then(noop);
    const pass = (async () => {
      try {
        for (let more = true; more || this.#again; ) {
          await nextTurn();
          this.#again = false;
          more = slice(written);
        }
      } finally {
        this.#running = null;
      }
      await Promise.all(written);
    })();
    this.#running = pass;
    return pass;
  }
}
