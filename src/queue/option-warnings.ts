/**
 * Warnings for option keys a queue does not know. `Queue.open`, `runWorker`,
 * the enqueues and `schedule` accept objects with keys they do not declare
 * (options written for a newer release still work with an older one), but a
 * misspelt key (`delay` for `delayMs`, `attempts` for `maxAttempts`) would
 * then change nothing without a word. The first object of each kind that has
 * unknown keys is told of, in one warning naming the key each one likely
 * meant; later ones of that kind are not (a newer release's key passed on
 * every enqueue costs one warning, and the check stops there).
 */
import type { Logger } from "../logger.js";
import { likelyKey, unknownKeys } from "../validate.js";

/** Unknown keys named in one warning, at most (the others are counted). */
const MAX_NAMED = 8;

/**
 * What other Node job queues (BullMQ, pg-boss, graphile-worker) call an
 * option, by its name in lower case: the key it is here (`key`, suggested
 * where the object has that key), or where the setting lives here instead
 * (`elsewhere`). Spelling alone cannot find these, or finds the wrong key
 * (`concurrency` is not `groupConcurrency`).
 */
const PEER_NAMES: Readonly<Record<string, { key?: string; elsewhere?: string }>> = {
  attempts: { key: "maxAttempts" },
  retrylimit: { key: "maxAttempts" },
  maxattempts: { elsewhere: "the enqueue option or queue config `maxAttempts`" },
  delay: { key: "delayMs" },
  startafter: { key: "runAt", elsewhere: "the enqueue option `runAt` or `delayMs`" },
  singletonkey: { key: "dedupKey" },
  jobkey: { key: "dedupKey" },
  timeout: { key: "timeoutMs", elsewhere: "the enqueue option `timeoutMs`" },
  expireinseconds: { key: "timeoutMs", elsewhere: "the enqueue option `timeoutMs`" },
  backoff: { elsewhere: "the queue config's `retryBackoffBaseMs` and `retryBackoffMaxMs`" },
  retrydelay: { key: "retryBackoffBaseMs", elsewhere: "the queue config's `retryBackoffBaseMs`" },
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
};

/** `` `delay` (did you mean `delayMs`?) ``: an unknown key and what it likely stands for here. */
function describeKey(key: string, keys: readonly string[]): string {
  const shown = `\`${key.length > 40 ? `${key.slice(0, 40)}…` : key}\``;
  const peer = PEER_NAMES[key.toLowerCase()];
  if (peer?.key !== undefined && keys.includes(peer.key))
    return `${shown} (did you mean \`${peer.key}\`?)`;
  if (peer?.elsewhere !== undefined) return `${shown} (see ${peer.elsewhere})`;
  const meant = likelyKey(key, keys);
  return meant === undefined ? shown : `${shown} (did you mean \`${meant}\`?)`;
}

/** One queue's (or one worker's) warnings of unknown option keys; see the module's comment. */
export class OptionWarnings {
  readonly #logger: Logger;
  /** The kinds of object (`enqueue options`, `options.log`…) told of already. */
  readonly #told = new Set<string>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Warns of the own keys of `options` that are not in `keys`, unless an
   * object of this kind (`what`, which names it in the message) was told of
   * already. Call once the object was checked: a refused call warns of
   * nothing. Not an object: nothing to tell.
   */
  check(options: unknown, what: string, keys: readonly string[]): void {
    if (typeof options !== "object" || options === null || this.#told.has(what)) return;
    const unknown = unknownKeys(options, keys);
    if (unknown === undefined) return;
    this.#told.add(what);
    const named = unknown.slice(0, MAX_NAMED).map((key) => describeKey(key, keys));
    const more = unknown.length > MAX_NAMED ? ` and ${unknown.length - MAX_NAMED} more` : "";
    try {
      this.#logger.warn(
        `ignoring unknown keys of ${what}: ${named.join(", ")}${more} (known: ${keys.join(", ")}; other objects of this kind are not checked again)`,
        { unknownKeys: unknown.slice(0, MAX_NAMED) },
      );
    } catch {
      // a logger that throws must not fail the call it is told from
    }
  }
}
