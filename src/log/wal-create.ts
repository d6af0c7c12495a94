/**
 * One WAL batch's create-if-absent, resolved to what really happened. A
 * create whose reply was lost may still have taken effect, so every
 * ambiguous answer is settled by reading the slot back and comparing the
 * batch's write token: ours → created, anyone else's → taken. Transient
 * errors are retried with backoff while the log works; once it has failed
 * (or the retry budget is spent) one last read-back decides, and when even
 * that cannot tell, the outcome is `unknown` (the caller reports the write
 * as in doubt).
 */
import { StorageError } from "../errors.js";
import { isProgrammingError, programmingFailure } from "../store/programming-error.js";
import { isObjectExistsError } from "../store/types.js";
import { messageOf } from "../util/message.js";
import { hasWriteToken } from "./codec.js";
import { backoffDelay, isPermanent, isTransient } from "./retry.js";
import type { LogStorage } from "./storage.js";

/** What became of one create. */
export type WalCreateOutcome =
  /** The batch is in its slot. */
  | { kind: "created" }
  /** Someone else's object is in the slot: the batch is not. */
  | { kind: "taken" }
  /** The batch is not in its slot and cannot land there later (the store refused it for good). */
  | { kind: "failed"; error: unknown }
  /** Whether the batch is (or will be) in its slot cannot be known. */
  | { kind: "unknown"; error: unknown };

/**
 * Creates `key` with `body` (which carries `token`). `stopping()` turns true
 * once the log failed: then no further attempt is made, only a read-back.
 */
export async function createWalObject(
  storage: LogStorage,
  key: string,
  body: Uint8Array,
  token: Uint8Array,
  stopping: () => boolean,
): Promise<WalCreateOutcome> {
  const { retry, store } = storage;
  const started = retry.clock.monotonicNow();
  for (let attempt = 0; ; attempt++) {
    let error: unknown;
    try {
      await store.put(key, body, { ifNoneMatch: "*" });
      return { kind: "created" };
    } catch (caught) {
      error = caught;
    }
    const exists = isObjectExistsError(error);
    const delay = backoffDelay(retry.policy, attempt, retry.random);
    const elapsed = retry.clock.monotonicNow() - started;
    const giveUp =
      (!exists && !isTransient(error)) || stopping() || elapsed + delay > retry.policy.maxElapsedMs;
    if (exists || giveUp) {
      let existing: Uint8Array | null | undefined;
      try {
        existing = (await store.get(key))?.body ?? null;
      } catch (readError) {
        if (giveUp || stopping()) {
          // A bug in the store's create is the problem to report, not the read-back's failure.
          const reported = isProgrammingError(error)
            ? programmingFailure(`create ${key}`, error)
            : readError;
          return { kind: "unknown", error: reported };
        }
      }
      if (existing !== undefined && existing !== null)
        return { kind: hasWriteToken(existing, token) ? "created" : "taken" };
      if (giveUp) {
        const refused = isPermanent(error);
        const final = exhausted(key, attempt, elapsed, error);
        // A permanent refusal did not take effect; anything else may still land.
        return refused ? { kind: "failed", error: final } : { kind: "unknown", error: final };
      }
      // Existed, then vanished (or the read-back failed): transient, try again.
    }
    if (attempt === 0)
      retry.logger.warn("store request failed; retrying with backoff", {
        what: `create ${key}`,
        retryForMs: retry.policy.maxElapsedMs,
        error: messageOf(error),
      });
    await retry.sleeper.sleep(delay);
  }
}

function exhausted(key: string, attempt: number, elapsed: number, error: unknown): StorageError {
  if (isPermanent(error)) return error;
  if (isProgrammingError(error)) return programmingFailure(`create ${key}`, error);
  return new StorageError(
    `create ${key} failed after ${attempt + 1} attempt(s) over ${Math.round(elapsed)} ms: ${messageOf(error)}`,
    { cause: error },
  );
}
