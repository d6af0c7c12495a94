/**
 * One WAL batch's create-if-absent, resolved to what really happened. A
 * create whose reply was lost may still have taken effect, so every
 * ambiguous answer is settled by reading the slot back and comparing the
 * batch's write token: ours → created, anyone else's → taken. Transient
 * errors are retried with backoff while the log works; once it has failed
 * (or the retry budget is spent) one last read-back decides, and when even
 * that cannot tell, the outcome is `unknown` (the caller reports the write
 * as in doubt). Only a permanent refusal of the store, not a bug in its code,
 * counts as "not created".
 */
import { StorageError } from "../errors.js";
import {
  involvesProgrammingError,
  isProgrammingError,
  programmingFailure,
} from "../store/programming-error.js";
import { isObjectExistsError } from "../store/types.js";
import { messageOf } from "../util/message.js";
import { hasWriteToken } from "./codec.js";
import { backoffDelay, isPermanent, isTransient, retryFailed } from "./retry.js";
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
      retry.warnings?.succeeded(`create ${key}`);
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
          return { kind: "unknown", error: bugFailure(key, error) ?? readError };
        }
      }
      if (existing !== undefined && existing !== null)
        return { kind: hasWriteToken(existing, token) ? "created" : "taken" };
      if (giveUp) {
        // A permanent refusal did not take effect; anything else may still land. So may a
        // create that failed with a bug in the store's code, even one the store wrapped as
        // permanent: the code may have thrown with its request on the way.
        const refused = isPermanent(error) && bugFailure(key, error) === undefined;
        const final = exhausted(key, attempt, elapsed, error);
        return refused ? { kind: "failed", error: final } : { kind: "unknown", error: final };
      }
      // Existed, then vanished (or the read-back failed): transient, try again.
    }
    if (attempt === 0) retryFailed(retry, `create ${key}`, error);
    else retry.warnings?.failedAgain(`create ${key}`, error);
    await retry.sleeper.sleep(delay);
  }
}

/**
 * For a create that failed with a bug in the store's code, what to report:
 * the bug wrapped as {@link programmingFailure} says, or the permanent error
 * the store wrapped it in itself. Undefined for any other failure.
 */
function bugFailure(key: string, error: unknown): StorageError | undefined {
  if (isProgrammingError(error)) return programmingFailure(`create ${key}`, error);
  if (isPermanent(error) && involvesProgrammingError(error)) return error;
  return undefined;
}

function exhausted(key: string, attempt: number, elapsed: number, error: unknown): StorageError {
  const bug = bugFailure(key, error);
  if (bug !== undefined) return bug;
  if (isPermanent(error)) return error;
  return new StorageError(
    `create ${key} failed after ${attempt + 1} attempt(s) over ${Math.round(elapsed)} ms: ${messageOf(error)}`,
    { cause: error },
  );
}
