/**
 * A checkpoint's output buffer (a hundred megabytes and more at a million
 * jobs) is allocated at the start of an encoding step of its own: the
 * allocation alone can take milliseconds (V8's garbage-collection work for
 * the external memory it adds), so it must not follow a slice's worth of the
 * rank pass in the same turn of the event loop.
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

function someJobs(count: number): State {
  const state = new State();
  const enqueue = enqueuer({ payload: Buffer.from("payload") });
  for (let i = 0; i < count; i++) {
    const id = enqueue(state);
    if (i % 3 === 0) {
      apply(state, { tag: Tag.Claim, id, at: NOW + i });
      apply(state, { tag: Tag.Ack, id, keep: true, at: NOW + i + 1 });
    }
  }
  return state;
}

describe("checkpoint output allocation", () => {
  it("ends the step at the end of the rank pass, however much budget is left", () => {
    const state = someJobs(300);
    // A budget that is never spent: everything but the allocation fits in the first step.
    const writer = new SnapshotWriter(state, 0, new SliceBudget(Number.POSITIVE_INFINITY));
    assert.equal(writer.step(), null, "the rank pass's step ends before the allocation");
    const bytes = writer.step();
    assert.ok(bytes !== null, "the next step allocates and writes the rest");
    let restored: State | null = null;
    const reader = new SnapshotReader(bytes);
    while (restored === null) restored = reader.step();
    assert.equal(stateDigest(restored), stateDigest(state));
  });
});
