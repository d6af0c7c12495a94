/**
 * Rebuilding the state at open (writer or reader): decode the checkpoint,
 * apply the records after it, and report damage as `CorruptionError`. Both
 * run in slices with a turn of the event loop between them, so opening a
 * large store does not block the process for long.
 */
import { CorruptionError } from "../errors.js";
import type { WalTail } from "../log/index.js";
import { type MonotonicNow, nextTurn, processNow, SLICE_MS, SliceBudget } from "../util/slices.js";
import { ApplyError, apply } from "./apply.js";
import { DecodeError } from "./binary.js";
import { NewerFormatError } from "./decode-error.js";
import { RecordDecoder } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import { snapshotDecoder } from "./snapshot.js";
import { refuseNewerSnapshot } from "./snapshot-decoder.js";
import { State } from "./state.js";

/**
 * At most this many of the tail's records are expected to be enqueues when
 * sizing the id index ahead of the replay (a tail of millions of claims and
 * acks should not reserve room for millions of ids). Without a checkpoint,
 * reserving is one synchronous allocation: 3–7 ms for 2^19 ids, 12–35 ms for
 * 2^21, which would be a turn of the event loop over 20 ms at open (the
 * checkpoint's decoder makes its room in slices). A longer tail of enqueues
 * grows the index shard by shard as it replays (each growth one shard's).
 * The count of enqueues itself is not known before the records are decoded.
 */
const MAX_RESERVED_TAIL_IDS = 1 << 19;

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
 * `checkpointKey` is the key of the checkpoint object (`null` with none),
 * named by the error when its snapshot does not decode.
 */
export function restoreState(
  checkpointKey: string | null,
  checkpoint: Uint8Array | null,
  tail: WalTail,
  sliceNow: MonotonicNow = processNow,
): Promise<State> {
  return inSlices(restoreSteps(checkpointKey, checkpoint, tail, sliceNow));
}

/**
 * {@link restoreState} in one synchronous run, for a caller that needs the
 * state at once (a `QueueReader` rebuilding its snapshot from bytes it holds).
 */
export function restoreStateNow(
  checkpointKey: string | null,
  checkpoint: Uint8Array | null,
  tail: WalTail,
): State {
  return atOnce(restoreSteps(checkpointKey, checkpoint, tail));
}

/**
 * Applies the records of `tail` to `state`, as {@link restoreState} applies
 * the records after the checkpoint: the WAL read after an earlier restore.
 */
export function applyTail(state: State, tail: WalTail, sliceMs = SLICE_MS): Promise<void> {
  return inSlices(applySteps(state, tail, sliceMs));
}

/** Work that yields where a slice of the event loop's time is spent. */
type Steps<T> = Generator<void, T, void>;

async function inSlices<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await nextTurn();
  }
}

function atOnce<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

function* restoreSteps(
  checkpointKey: string | null,
  checkpoint: Uint8Array | null,
  tail: WalTail,
  sliceNow: MonotonicNow = processNow,
): Steps<State> {
  let state: State;
  // Room in the id index for the tail's enqueues: growing it during the replay rehashes every id
  // loaded so far (a tail that is mostly enqueues, the expensive case, adds that many ids).
  const moreJobs = Math.min(tail.count, MAX_RESERVED_TAIL_IDS);
  try {
    if (checkpoint === null) {
      state = new State();
      state.ids.reserve(moreJobs);
    } else state = yield* decodeSteps(checkpoint, moreJobs, sliceNow);
  } catch (error) {
    // Well-formed, in a format a newer release wrote: say so, lest it be taken for damage.
    // Only a checkpoint is decoded: the key is known here.
    const key = checkpointKey ?? "checkpoint";
    if (error instanceof NewerFormatError) throw newerRelease(key, error);
    if (error instanceof DecodeError)
      throw new CorruptionError(
        key,
        `expected a queue snapshot, but it does not decode: ${error.message}`,
        { cause: error },
      );
    throw error;
  }
  yield* applySteps(state, tail, SLICE_MS, sliceNow);
  return state;
}

/**
 * Refuses a checkpoint's snapshot a newer release wrote, from its head alone,
 * with the error {@link restoreState} would fail with: asked before the store
 * is taken over, so that a process of an older release (a rollback, a
 * canary) does not fence that release's running writer only to fail.
 */
export function refuseNewerCheckpoint(checkpointKey: string, snapshot: Uint8Array): void {
  try {
    refuseNewerSnapshot(snapshot);
  } catch (error) {
    if (error instanceof NewerFormatError) throw newerRelease(checkpointKey, error);
    throw error;
  }
}

function newerRelease(checkpointKey: string, error: NewerFormatError): CorruptionError {
  return new CorruptionError(
    checkpointKey,
    `queue snapshot written by a newer taquba release (${error.message}): not damage; open it with that release or a later one`,
    { cause: error },
  );
}

function* applySteps(
  state: State,
  tail: WalTail,
  sliceMs = SLICE_MS,
  sliceNow: MonotonicNow = processNow,
): Steps<void> {
  const budget = new SliceBudget(sliceMs, sliceNow);
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
          cursor.key,
          `record ${cursor.indexInBatch + 1} of the batch (${cursor.index + 1} of the WAL records read) ` +
            `cannot be applied: ${error.message}`,
          { cause: error },
        );
      throw error;
    }
    if ((bulk || cursor.index % RECORDS_PER_CHECK === RECORDS_PER_CHECK - 1) && budget.spent()) {
      yield;
      budget.start();
    }
  }
}

function* decodeSteps(bytes: Uint8Array, moreJobs: number, sliceNow: MonotonicNow): Steps<State> {
  const decoder = snapshotDecoder(bytes, moreJobs, sliceNow);
  for (;;) {
    const state = decoder.step();
    if (state !== null) return state;
    yield;
  }
}
