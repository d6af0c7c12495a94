/**
 * The restore reads a checkpoint's extras with a budget check every few
 * hundred jobs: a job with a caller id costs microseconds to restore (its
 * string, its extras, a set in the by-id map), so checks thousands of jobs
 * apart let one turn of the event loop run past 10 ms at a million jobs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State } from "../../src/queue/state.js";
import { SliceBudget } from "../../src/util/slices.js";
import { stateDigest } from "../reliability/lib/audit.js";
import { enqueuer } from "./state-jobs.js";

function jobs(count: number, callerIds: boolean): State {
  const state = new State();
  const enqueue = enqueuer();
  for (let i = 0; i < count; i++) enqueue(state, callerIds ? { jobId: `order-${i}` } : {});
  return state;
}

function encode(state: State): Uint8Array {
  const writer = new SnapshotWriter(state, 0);
  for (;;) {
    const bytes = writer.step();
    if (bytes !== null) return bytes;
  }
}

/** Steps a restore with a zero budget (each stops at its first check) takes, and its state. */
function restoreSteps(bytes: Uint8Array): { steps: number; state: State } {
  const reader = new SnapshotReader(bytes, new SliceBudget(0));
  for (let steps = 1; ; steps++) {
    const state = reader.step();
    if (state !== null) return { steps, state };
  }
}

describe("restore of caller ids in slices", () => {
  it("checks the budget every 256 jobs of extras", () => {
    const count = 2_000;
    const withIds = jobs(count, true);
    const restored = restoreSteps(encode(withIds));
    const baseline = restoreSteps(encode(jobs(count, false))).steps;
    assert.ok(
      restored.steps >= baseline + Math.floor(count / 256),
      `${count} caller ids restored in ${restored.steps} steps, ${baseline} without them`,
    );
    assert.equal(stateDigest(restored.state), stateDigest(withIds));
  });
});
