/**
 * Warnings for option keys a queue does not know. `Queue.open`, `runWorker`,
 * the enqueues, `schedule`, the claims, `ack` and `waitForCompletion` accept
 * objects with keys they do not declare (options written for a newer release
 * still work with an older one), but a misspelt key (`delay` for `delayMs`,
 * `attempts` for `maxAttempts`, `results` for `result`) would then change
 * nothing without a word. Each unknown key is told of once per
 * kind of object, in one warning per object that brings new ones, naming the
 * key each one likely meant: a newer release's key passed on every enqueue
 * costs one warning, and a typo made later in another call is still told.
 * A kind that has brought {@link MAX_TOLD} unknown keys is no longer looked
 * at (the caller's objects are not what this queue expects, and that was said).
 */
import type { Logger } from "../logger.js";
import { likelyKey, unknownKeys } from "../validate.js";

/** What other queues call a key, by its name in lower case (see {@link JOB_HINTS}). */
export type Hints = Readonly<Record<string, { key?: string; elsewhere?: string }>>;

/** Unknown keys named in one warning, at most (the others are counted). */
const MAX_NAMED = 8;
/** Unknown keys told of per kind of object before that kind is no longer looked at. */
const MAX_TOLD = 32;

/**
 * What other Node job queues (BullMQ, pg-boss, graphile-worker) call an
 * option, by its name in lower case: the key it is here (`key`, suggested
 * where the object has that key), or where the setting lives here instead
 * (`elsewhere`), with a word on units where they differ. Spelling alone
 * cannot find these, or finds the wrong key (`concurrency` is not
 * `groupConcurrency`). Used for the objects that describe jobs, queues and
 * workers, not for the log's settings, where the same names (`maxAttempts`,
 * `timeout`) mean other things.
 */
export const JOB_HINTS: Hints = {
  attempts: { key: "maxAttempts" },
  retrylimit: { key: "maxAttempts" },
  maxattempts: { elsewhere: "the enqueue option or queue config `maxAttempts`" },
  delay: { key: "delayMs" },
  startafter: {
    elsewhere: "the enqueue option `runAt` (a Date or epoch milliseconds) or `delayMs`",
  },
  singletonkey: { key: "dedupKey" },
  jobkey: { key: "dedupKey" },
  timeout: { elsewhere: "the enqueue option `timeoutMs` (milliseconds)" },
  expireinseconds: { elsewhere: "the enqueue option `timeoutMs` (milliseconds, not seconds)" },
  backoff: { elsewhere: "the queue config's `retryBackoffBaseMs` and `retryBackoffMaxMs`" },
  retrydelay: { elsewhere: "the queue config's `retryBackoffBaseMs` (milliseconds)" },
  retrybackoff: { elsewhere: "the queue config's `retryBackoffBaseMs` and `retryBackoffMaxMs`" },
  removeoncomplete: {
    elsewhere: "the queue config's `keepDoneJobsMs` (an ack removes the job by default)",
  },
  removeonfail: { elsewhere: "the queue config's `deadRetentionMs`" },
  repeat: { elsewhere: "`queue.schedule()`" },
  concurrency: {
    key: "concurrency",
    elsewhere: "`runWorker`'s option `concurrency` (`groupConcurrency` caps each group only)",
  },
  timezone: { key: "timezone" },
  // BullMQ's rate limiter is `{ max, duration }`.
  duration: { key: "perMs" },
};

/** No hints beyond spelling (the log's settings). */
const NO_HINTS: Hints = {};

/** `` `delay` (did you mean `delayMs`?) ``: an unknown key and what it likely stands for here. */
function describeKey(key: string, keys: readonly string[], hints: Hints): string {
  const shown = `\`${key.length > 40 ? `${key.slice(0, 40)}…` : key}\``;
  const peer = Object.hasOwn(hints, key.toLowerCase()) ? hints[key.toLowerCase()] : undefined;
  if (peer?.key !== undefined && keys.includes(peer.key))
    return `${shown} (did you mean \`${peer.key}\`?)`;
  if (peer?.elsewhere !== undefined) return `${shown} (see ${peer.elsewhere})`;
  const meant = likelyKey(key, keys);
  return meant === undefined ? shown : `${shown} (did you mean \`${meant}\`?)`;
}

/** Unknown keys found in one object, to tell (see {@link OptionWarnings.find}). */
export interface UnknownKeys {
  readonly what: string;
  readonly keys: readonly string[];
  readonly unknown: readonly string[];
}

/** One queue's (or one worker's) warnings of unknown option keys; see the module's comment. */
export class OptionWarnings {
  readonly #logger: Logger;
  /** Unknown keys told of already, by kind of object (`enqueue options`, `options.log`…). */
  readonly #told = new Map<string, Set<string>>();
  /** Kinds that brought {@link MAX_TOLD} unknown keys: no longer looked at. */
  readonly #done = new Set<string>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Warns of the own keys of `options` that are not in `keys` and were not
   * told of already for this kind of object (`what`, which names it in the
   * message). Call once the object was checked: a refused call warns of
   * nothing. `hints`: {@link JOB_HINTS} where other queues' option names
   * apply.
   */
  check(options: unknown, what: string, keys: readonly string[], hints: Hints = NO_HINTS): void {
    const found = this.find(options, what, keys);
    if (found !== undefined) this.tell(found, hints);
  }

  /**
   * The unknown keys of `options`, to {@link tell} later (once a call that
   * looked at objects it is given in its own turn has been checked), or
   * `undefined`: none but keys told of already, a kind no longer looked at,
   * no plain object (an array, a primitive), or an object whose keys cannot
   * be listed (a proxy whose traps throw: that is for the call's own checks
   * to meet, not this).
   */
  find(options: unknown, what: string, keys: readonly string[]): UnknownKeys | undefined {
    if (typeof options !== "object" || options === null || Array.isArray(options)) return;
    if (this.#done.has(what)) return;
    let found: string[] | undefined;
    try {
      found = unknownKeys(options, keys);
    } catch {
      return;
    }
    const unknown = found === undefined ? [] : this.#untold(what, found);
    return unknown.length === 0 ? undefined : { what, keys, unknown };
  }

  /** Warns of the keys of `found` not told of meanwhile (another object of its kind may have). */
  tell(found: UnknownKeys, hints: Hints = NO_HINTS): void {
    const { what, keys } = found;
    if (this.#done.has(what)) return;
    const unknown = this.#untold(what, found.unknown);
    if (unknown.length === 0) return;
    const told = this.#told.get(what) ?? new Set<string>();
    this.#told.set(what, told);
    for (const key of unknown) {
      told.add(key);
      if (told.size >= MAX_TOLD) {
        this.#done.add(what);
        this.#told.delete(what);
        break;
      }
    }
    const named = unknown.slice(0, MAX_NAMED).map((key) => describeKey(key, keys, hints));
    const more = unknown.length > MAX_NAMED ? ` and ${unknown.length - MAX_NAMED} more` : "";
    try {
      this.#logger.warn(
        `ignoring unknown keys of ${what}: ${named.join(", ")}${more} (known: ${keys.join(", ")})`,
        { unknownKeys: unknown.slice(0, MAX_NAMED) },
      );
    } catch {
      // a logger that throws must not fail the call it is told from
    }
  }

  /** The keys of `unknown` not told of yet for `what`. */
  #untold(what: string, unknown: readonly string[]): readonly string[] {
    const told = this.#told.get(what);
    return told === undefined ? unknown : unknown.filter((key) => !told.has(key));
  }
}
