/**
 * The checkpoint format of the queue's state: which encoder writes it and
 * which decoder reads it back. Version 2 (the job table's columns, written in
 * slices from a frozen view) is written; version 1 (one row per job, written
 * by earlier releases) is still read.
 */
import { type MonotonicNow, processNow, SliceBudget, type TurnWindow } from "../util/slices.js";
import { DecodeError } from "./binary.js";
import { SnapshotReader } from "./snapshot-decoder.js";
import { SnapshotWriter } from "./snapshot-encoder.js";
import { decodeSnapshotV1 } from "./snapshot-v1.js";
import type { State } from "./state.js";

/**
 * A snapshot of `state` as of now, encoded in slices by `step()` (the log's
 * snapshot source): the finished bytes start with `reserve` free bytes.
 */
export function snapshotEncoder(
  state: State,
  reserve: number,
  sliceNow: MonotonicNow = processNow,
  window?: TurnWindow,
): SnapshotWriter {
  return new SnapshotWriter(state, reserve, new SliceBudget(undefined, sliceNow, window));
}

/** The whole snapshot of `state` at once (tests and tools; the log encodes in slices). */
export function encodeSnapshot(state: State): Uint8Array {
  const encoder = new SnapshotWriter(state, 0);
  for (;;) {
    const bytes = encoder.step();
    if (bytes !== null) return bytes;
  }
}

/**
 * A decoder of `bytes` (any supported version): `step()` returns the state
 * once complete, else null. Takes the bytes over (the state may keep views of
 * them). Throws `DecodeError` on malformed input. `moreJobs`: about how many
 * jobs will be added after it (see {@link SnapshotReader}).
 */
export function snapshotDecoder(
  bytes: Uint8Array,
  moreJobs = 0,
  sliceNow: MonotonicNow = processNow,
): { step(): State | null } {
  if (bytes.byteLength === 0) throw new DecodeError("empty snapshot");
  if (bytes[0] === 1) {
    const state = decodeSnapshotV1(bytes);
    return { step: () => state };
  }
  return new SnapshotReader(bytes, new SliceBudget(undefined, sliceNow), moreJobs);
}

/** The clock of a decode at once: never past its first slice's deadline, so no step ends early. */
const atOnce: MonotonicNow = () => 0;

/**
 * Rebuild a state from a snapshot at once (tests and tools). Throws
 * `DecodeError`. Nothing runs between its steps, so they are not timed: how
 * they divide the work does not depend on the machine's speed.
 */
export function decodeSnapshot(bytes: Uint8Array): State {
  const decoder = snapshotDecoder(bytes, 0, atOnce);
  for (;;) {
    const state = decoder.step();
    if (state !== null) return state;
  }
}
