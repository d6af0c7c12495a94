/**
 * Rebuilding the state at open (writer or reader): decode the checkpoint,
 * apply the records after it, and report damage as `CorruptionError`. Both
 * run in slices with a turn of the event loop between them, so opening a
 * large store does not block the process for long.
 */
import { CorruptionError } from "../errors.js";
import type { WalTail } from "../log/index.js";
import { nextTurn, SliceBudget } from "../util/slices.js";
import { ApplyError, apply } from "./apply.js";
import { DecodeError } from "./binary.js";
import { RecordDecoder } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import { snapshotDecoder } from "./snapshot.js";
import { State } from "./state.js";

/** Records applied between two budget checks. */
const RECORDS_PER_CHECK = 256;
/**
 * Records that may act on many jobs (up to `BULK_RECORD_JOBS`, or every job
 * of a queue for records of earlier releases): the budget is checked after
 * each, so a run of them (a retention sweep, a promotion) does not become
 * one long turn.
 */
const BULK_TAGS: ReadonlySet<number> = new Set([
  Tag.Promote,
  Tag.PromoteSome,
  Tag.SweepDone,
  Tag.SweepDead,
  Tag.SweepDoneSome,
  Tag.SweepDoneNoResultSome,
  Tag.SweepDeadSome,
  Tag.SweepCancelledSome,
  Tag.Transaction,
]);

/**
 * Rebuild the state from the newest checkpoint plus the records after it.
 * Takes the checkpoint's bytes over (the state keeps views of them). The
 * records are decoded where they lie in the WAL batches, one at a time.
 */
export async function restoreState(
  path: string,
  checkpoint: Uint8Array | null,
  tail: WalTail,
): Promise<State> {
  let state: State;
  try {
    state = checkpoint === null ? new State() : await decodeInSlices(checkpoint);
  } catch (error) {
    if (error instanceof DecodeError)
      throw new CorruptionError(`${path}/checkpoint`, `queue snapshot: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
  const budget = new SliceBudget();
  budget.start();
  const cursor = tail.cursor();
  // `apply` keeps nothing of a record object, so one enqueue object serves every record.
  const decoder = new RecordDecoder({ reuseEnqueues: true });
  while (cursor.next()) {
    let bulk: boolean;
    try {
      const record = decoder.decode(cursor.body, cursor.start, cursor.end);
      apply(state, record);
      bulk = BULK_TAGS.has(record.tag);
    } catch (error) {
      if (error instanceof DecodeError || error instanceof ApplyError)
        throw new CorruptionError(
          `${path}/wal`,
          `record ${cursor.index} after the checkpoint: ${error.message}`,
          {
            cause: error,
          },
        );
      throw error;
    }
    if ((bulk || cursor.index % RECORDS_PER_CHECK === RECORDS_PER_CHECK - 1) && budget.spent()) {
      await nextTurn();
      budget.start();
    }
  }
  return state;
}

async function decodeInSlices(bytes: Uint8Array): Promise<State> {
  const decoder = snapshotDecoder(bytes);
  for (;;) {
    const state = decoder.step();
    if (state !== null) return state;
    await nextTurn();
  }
}
