/**
 * `State.findNamed`: the row a record names, tried first from the live
 * path's hint (`expect`) and always checked, so a wrong or stale hint never
 * changes which job a record applies to.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import { enqueuer, NOW } from "./state-jobs.js";

describe("State.findNamed", () => {
  it("uses the expected row when it holds the id, and finds the right job when it does not", () => {
    const state = new State();
    const enqueue = enqueuer();
    const a = enqueue(state);
    const b = enqueue(state);
    const ha = state.find(a);
    const hb = state.find(b);
    assert.notEqual(ha, hb);

    state.expect(ha);
    assert.equal(state.findNamed(a), ha);
    // A wrong hint (another job's row), a row out of range, a free row: the id decides.
    state.expect(hb);
    assert.equal(state.findNamed(a), ha);
    state.expect(1_000_000);
    assert.equal(state.findNamed(b), hb);
    state.forgetExpected();
    assert.equal(state.findNamed("not an id"), -1);

    // A stale hint: the row of a job that is gone, reused by a newer job.
    apply(state, { tag: Tag.Claim, id: a, at: NOW });
    apply(state, { tag: Tag.Ack, id: a, keep: false, at: NOW });
    const c = enqueue(state);
    const hc = state.find(c);
    state.expect(hc);
    assert.equal(state.findNamed(a), -1, "the job is gone, whatever the hint says");
    state.forgetExpected();
  });

  it("a hinted claim and ack apply to the job the record names", () => {
    const state = new State();
    const enqueue = enqueuer();
    const a = enqueue(state);
    const b = enqueue(state);
    state.expect(state.find(b)); // the hint points at b, the record names a
    apply(state, { tag: Tag.Claim, id: a, at: NOW });
    state.forgetExpected();
    assert.equal(state.statusOf(state.find(a)), 2, "a claimed");
    assert.equal(state.statusOf(state.find(b)), 0, "b still pending");
  });
});
