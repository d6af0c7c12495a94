/**
 * What becomes of the writer's creates in flight once the log has failed.
 * Each is still resolved, in WAL order, before its callers hear anything:
 * one that landed, after every batch before it landed, is acknowledged (it
 * is below the new writer's fence and will be replayed); one whose outcome
 * cannot be learnt, or that landed after a batch that may be missing, is
 * rejected with `inDoubt: true`; the rest are rejected plainly.
 */
import { FencedError, StorageError } from "../errors.js";
import type { WalCreateOutcome } from "./wal-create.js";

/** What to do with the next batch after the log failed. */
export type TailVerdict = "acknowledge" | "reject" | "rejectInDoubt";

/**
 * After the log failed: what the batches settled so far amount to for the
 * next one. `landed`: all of them are in the WAL; `maybe`: one may be
 * missing; `dead`: one is missing for sure, so nothing after it is replayed.
 */
type Prefix = "landed" | "maybe" | "dead";

export class FailedTail {
  #prefix: Prefix = "landed";

  /**
   * The verdict on the next batch in WAL order, whose create ended with
   * `outcome`; `acknowledgeable` tells whether the fence's acknowledgement
   * rule holds for it (asked only for a batch that landed after a landed prefix).
   */
  next(outcome: WalCreateOutcome, acknowledgeable: () => boolean): TailVerdict {
    if (outcome.kind === "created" && this.#prefix === "landed" && acknowledgeable()) {
      // Landed after everything before it: the next writer replays it.
      return "acknowledge";
    }
    if (outcome.kind === "created" || outcome.kind === "unknown") {
      // Replayed exactly when every batch before it is in the WAL.
      const inDoubt = this.#prefix !== "dead";
      if (this.#prefix === "landed") this.#prefix = "maybe";
      return inDoubt ? "rejectInDoubt" : "reject";
    }
    this.#prefix = "dead";
    return "reject";
  }
}

/** A copy of `error` that says the write may have been applied anyway. */
export function withDoubt(error: Error): Error {
  const suffix = " The write may have been applied anyway: treat it as maybe-applied.";
  if (error instanceof FencedError)
    return new FencedError(error.message + suffix, { cause: error, inDoubt: true });
  if (error instanceof StorageError)
    return new StorageError(error.message + suffix, {
      cause: error,
      permanent: error.permanent,
      inDoubt: true,
    });
  return error;
}
