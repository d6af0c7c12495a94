/**
 * A checkpoint's extras (headers, errors, attempt history, results…) are
 * encoded and restored in slices bounded by bytes, not only by a count of
 * jobs: done jobs keep their results (up to `maxPayloadBytes` each) for
 * `resultRetentionMs`, so a thousand rows of them per budget check can be
 * hundreds of megabytes, one event-loop turn of hundreds of milliseconds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { Tag } from "../../src/queue/records/tags.js";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State } from "../../src/queue/state.js";
import { SliceBudget } from "../../src/util/slices.js";
import { stateDigest } from "../reliability/lib/audit.js";
import { enqueuer, NOW } from "./state-jobs.js";

/** Bytes of extras after which a slice checks its budget. */
const SLICE_BYTES = 1 << 20;

/** `count` done jobs, each kept with a result of `resultBytes`. */
function doneWithResults(count: number, resultBytes: number): State {
  const state = new State();
  const result = Buffer.alloc(resultBytes, 7);
  const enqueue = enqueuer({ payload: Buffer.from("p") });
  for (let i = 0; i < count; i++) {
    const id = enqueue(state);
    apply(state, { tag: Tag.Claim, id, at: NOW + i });
    apply(state, { tag: Tag.Ack, id, keep: true, at: NOW + i + 1, result });
  }
  return state;
}

/** Steps of `step` until it returns non-null, and that result. */
function stepped<T>(step: () => T | null): { steps: number; result: T } {
  for (let steps = 1; ; steps++) {
    const result = step();
    if (result !== null) return { steps, result };
  }
}

describe("checkpoint extras in slices", () => {
  // 16 MiB of results in 32 jobs: far fewer jobs than a slice's count of rows.
  const count = 32;
  const state = doneWithResults(count, 512 * 1024);
  const extrasMiB = (count * 512 * 1024) / SLICE_BYTES;

  it("encodes at most about a megabyte of extras per budget check", () => {
    const writer = new SnapshotWriter(state, 0, new SliceBudget(0));
    const { steps, result } = stepped(() => writer.step());
    const small = new SnapshotWriter(doneWithResults(count, 1), 0, new SliceBudget(0));
    const baseline = stepped(() => small.step()).steps;
    // Encoding the extras and copying them into the output: a megabyte per step each,
    // on top of the steps of the same jobs with tiny results.
    assert.ok(
      steps >= baseline + 2 * extrasMiB - 1,
      `${extrasMiB} MiB of extras in ${steps} steps, ${baseline} without them`,
    );
    const reader = new SnapshotReader(result);
    assert.equal(stateDigest(stepped(() => reader.step()).result), stateDigest(state));
  });

  it("restores at most about a megabyte of extras per budget check", () => {
    const writer = new SnapshotWriter(state, 0);
    const bytes = stepped(() => writer.step()).result;
    const reader = new SnapshotReader(bytes, new SliceBudget(0));
    const { steps, result } = stepped(() => reader.step());
    assert.ok(steps >= extrasMiB, `${extrasMiB} MiB of extras in ${steps} steps`);
    assert.equal(stateDigest(result), stateDigest(state));
  });
});
