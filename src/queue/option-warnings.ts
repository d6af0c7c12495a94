/**
 * Warnings for option keys a queue does not know. `Queue.open`, `runWorker`,
 * the enqueues and `schedule` accept options with keys they do not declare
 * (options written for a newer release still work with an older one), but a
 * misspelt key (`delay` for `delayMs`, `attempts` for `maxAttempts`) would
 * then change nothing without a word: each unknown key is told once per
 * queue, in one warning naming the key it most likely meant.
 */
import type { Logger } from "../logger.js";
import { describeKeys, unknownKeys } from "../validate.js";

/** Keys told about, at most: a caller making up keys cannot grow the set without bound. */
const MAX_TOLD = 256;

export class OptionWarnings {
  readonly #logger: Logger;
  /** `${what}.${key}` of every key already told about. */
  readonly #told = new Set<string>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Warns once of each own key of `options` not in `keys`; `what` names the
   * options in the message (`options`, `enqueue options`).
   */
  check(options: object, what: string, keys: readonly string[]): void {
    const unknown = unknownKeys(options, keys);
    if (unknown === undefined) return;
    const untold = unknown.filter((key) => !this.#told.has(`${what}.${key}`));
    if (untold.length === 0 || this.#told.size >= MAX_TOLD) return;
    for (const key of untold) this.#told.add(`${what}.${key}`);
    this.#logger.warn(
      `ignoring unknown ${what} ${describeKeys(untold, keys)}; the known keys are ${keys.join(", ")}`,
      { unknownKeys: untold },
    );
  }
}
