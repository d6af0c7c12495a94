/**
 * When a checkpoint of an open log is due: the bounds on the WAL written
 * since the last one (bytes, records and batches, each growing with the
 * state's size, and time) and the spacing of the batch bound on a fast
 * store. Separate from `checkpointer.ts`, which writes checkpoints and runs
 * GC, so that the policy reads as one rule (see docs/recovery.md).
 */
import type { ResolvedLogOptions } from "./options.js";

/**
 * The WAL tail allowed to grow with the state: records since the last
 * checkpoint may reach its size in bytes ÷ this. Loading a checkpoint costs
 * about 3–4 ns per byte (~0.45 µs per 64-byte job) and replaying a record
 * about 1.3–1.7 µs, so a tail of this many records replays in about half the
 * checkpoint's load time (at ÷ 512 it took as long as the load itself).
 */
const CHECKPOINT_BYTES_PER_RECORD = 1024;

/**
 * The WAL batches allowed to pile up with a small state, whatever the
 * checkpoint's size: an open reads one object per batch, so this bounds its
 * GETs (four rounds of the replay's parallel reads; on a fast store, see
 * {@link MIN_BATCH_CHECKPOINT_SPACING_MS}, up to four times that).
 */
export const MIN_CHECKPOINT_WAL_BATCHES = 256;

/**
 * The WAL batches allowed to grow with the state: batches since the last
 * checkpoint may reach its size in bytes ÷ this (up to `checkpointWalBatches`).
 * An open reads the checkpoint in one GET and the batches a few dozen at a
 * time, so a tail of this many batches costs about what the checkpoint's read
 * does, and a state of 64 MiB or more (a million live jobs is about 100 MB)
 * keeps the full `checkpointWalBatches`.
 */
export const CHECKPOINT_BYTES_PER_WAL_BATCH = 16 * 1024;

/**
 * The least time between two checkpoints made due by the batch bound that
 * follows the state's size, on a store that creates within
 * {@link SPACED_CREATE_MS}. A small state under a busy writer would
 * otherwise be checkpointed several times a second (every 256 batches; at 64
 * records a batch, every ~16,000 enqueues), each time encoding the whole
 * state and writing it as one more PUT, whose write and fsync on a local disk
 * also slow the WAL's own. Waiting a second adds to a reopen at most the
 * batches of that second (up to {@link SPACING_BATCH_FACTOR} times the bound),
 * which such a store reads in a few milliseconds.
 */
export const MIN_BATCH_CHECKPOINT_SPACING_MS = 1_000;

/**
 * WAL creates that take longer than this (ms), the median of the latest
 * (see `create-times.ts`), keep the batch bound unspaced: where each round of an open's parallel reads is a network
 * round trip (radosgw on loopback answers a PUT in ~6 ms, cloud stores in
 * tens), a longer tail would slow a takeover down, so checkpoints come every
 * bound's worth of batches as before. A local disk's fsync'd create takes
 * about a millisecond; memory, nothing.
 */
export const SPACED_CREATE_MS = 2;

/**
 * However soon after the last checkpoint, a tail of this many times the
 * size-based batch bound (or of `checkpointWalBatches`, if less) makes one
 * due: the spacing never lets a very fast writer's tail (and so an open's
 * reads) grow without bound.
 */
export const SPACING_BATCH_FACTOR = 4;

/** The options the policy reads. */
export type CheckpointPolicyOptions = Pick<
  ResolvedLogOptions,
  | "checkpointWalBytes"
  | "checkpointWalRecords"
  | "checkpointWalBatches"
  | "checkpointWalBatchesGiven"
  | "checkpointIntervalMs"
>;

/** The WAL written since the last checkpoint, as the policy weighs it. */
export interface CheckpointTail {
  /** Encoded WAL bytes since the last checkpoint. */
  walBytes: number;
  /** WAL records since the last checkpoint. */
  walRecords: number;
  /** WAL batches since the last checkpoint (more than 0: none is due for nothing written). */
  walBatches: number;
  /** Time since the last checkpoint (monotonic ms). */
  sinceLast: number;
  /** How long WAL creates took lately (ms), or null before the first. */
  walCreateMs: number | null;
}

/**
 * Whether `tail` makes the next checkpoint due, the last one being
 * `lastCheckpointBytes` long: its WAL bytes pass `checkpointWalBytes` (or
 * the checkpoint's own size), its records the {@link recordBound}, its
 * batches the batch bound (see {@link batchesDue}), or its age
 * `checkpointIntervalMs`.
 */
export function checkpointDue(
  options: CheckpointPolicyOptions,
  lastCheckpointBytes: number,
  tail: CheckpointTail,
): boolean {
  return (
    tail.walBytes > Math.max(options.checkpointWalBytes, lastCheckpointBytes) ||
    tail.walRecords > recordBound(options, lastCheckpointBytes) ||
    batchesDue(options, lastCheckpointBytes, tail) ||
    tail.sinceLast >= options.checkpointIntervalMs
  );
}

/** WAL records since the last checkpoint (`lastCheckpointBytes` long) past which the next one is due. */
export function recordBound(options: CheckpointPolicyOptions, lastCheckpointBytes: number): number {
  return Math.max(options.checkpointWalRecords, lastCheckpointBytes / CHECKPOINT_BYTES_PER_RECORD);
}

/**
 * Whether the WAL batches of `tail` make a checkpoint due. A given
 * `checkpointWalBatches` is the bound as it stands. Past the bound that
 * follows the state's size, a store that creates within
 * {@link SPACED_CREATE_MS} waits until {@link MIN_BATCH_CHECKPOINT_SPACING_MS}
 * have passed since the last checkpoint (it is asked again at the next
 * durable batch), or the tail has grown to {@link SPACING_BATCH_FACTOR}
 * times the bound, or to `checkpointWalBatches` if that is less.
 */
function batchesDue(
  options: CheckpointPolicyOptions,
  lastCheckpointBytes: number,
  { walBatches, sinceLast, walCreateMs }: CheckpointTail,
): boolean {
  const bound = batchBound(options, lastCheckpointBytes);
  if (walBatches <= bound) return false;
  const { checkpointWalBatches, checkpointWalBatchesGiven } = options;
  if (checkpointWalBatchesGiven) return true;
  // Spaced, the tail still never passes `checkpointWalBatches` (4,096 by default).
  if (walBatches > Math.min(SPACING_BATCH_FACTOR * bound, checkpointWalBatches)) return true;
  // Written so that a median that is not a number (a clock that returned NaN) is slow.
  if (walCreateMs === null || !(walCreateMs <= SPACED_CREATE_MS)) return true;
  return sinceLast >= MIN_BATCH_CHECKPOINT_SPACING_MS;
}

/**
 * WAL batches since the last checkpoint past which the next one is due:
 * `checkpointWalBatches`, or fewer with a small state, so that the GETs of a
 * reopen (after a crash, or a takeover of a busy writer) stay in proportion
 * to the checkpoint's own read rather than to how long the writer has run.
 */
function batchBound(options: CheckpointPolicyOptions, lastCheckpointBytes: number): number {
  if (options.checkpointWalBatchesGiven) return options.checkpointWalBatches;
  return Math.min(
    options.checkpointWalBatches,
    Math.max(MIN_CHECKPOINT_WAL_BATCHES, lastCheckpointBytes / CHECKPOINT_BYTES_PER_WAL_BATCH),
  );
}
