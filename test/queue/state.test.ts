/**
 * `State.findNamed`: the row a record names, tried first from the live
 * path's hint (`expect`) and checked by id, so a wrong or stale hint never
 * changes which job a record applies to. A verified hint (a removal's) is
 * only checked not to be a free row.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import { enqueuer, NOW } from "./state-jobs.js";

/** A state with two pending jobs, their ids and rows, and the enqueuer that made them. */
function twoJobs() {
  const state = new State();
  const enqueue = enqueuer();
  const a = enqueue(state);
  const b = enqueue(state);
  return { state, enqueue, a, b, ha: state.find(a), hb: state.find(b) };
}

describe("State.findNamed", () => {
  it("uses the expected row when it holds the id, and finds the right job when it does not", () => {
    const { state, enqueue, a, b, ha, hb } = twoJobs();
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

  it("a verified hint is not taken when its row is free: the id index answers", () => {
    const { state, a, b, ha, hb } = twoJobs();
    // The row of a job that is gone (free), hinted as holding b: a writer's mistake.
    apply(state, { tag: Tag.Claim, id: a, at: NOW });
    apply(state, { tag: Tag.Ack, id: a, keep: false, at: NOW });
    assert.equal(state.find(a), -1);
    state.expect(ha, b);
    assert.equal(state.peekNamed(b), hb);
    assert.equal(state.findNamed(b), hb);
    // Used up all the same: the next hint is the next record's.
    assert.equal(state.peekNamed(b), hb, "no hint left: a look-up");
    state.forgetExpected();
  });

  it("peekNamed reads the expected row without using up its hint, and checks it the same way", () => {
    const { state, a, b, ha, hb } = twoJobs();
    // Look-ups in the id index, the cost a hint saves.
    let lookups = 0;
    const find = state.ids.find.bind(state.ids);
    state.ids.find = (key, offset) => {
      lookups++;
      return find(key, offset);
    };
    state.expect(ha);
    state.expect(hb);
    // Peeked as often as wanted, the hint stays for findNamed: no look-up for either record.
    assert.equal(state.peekNamed(a), ha);
    assert.equal(state.peekNamed(a), ha);
    assert.equal(state.findNamed(a), ha);
    assert.equal(state.peekNamed(b), hb);
    assert.equal(state.findNamed(b), hb);
    assert.equal(lookups, 0);
    // A wrong hint: the id decides (a look-up), and the hint is left for the record it names.
    state.forgetExpected();
    state.expect(hb);
    assert.equal(state.peekNamed(a), ha);
    assert.equal(lookups, 1);
    assert.equal(state.findNamed(b), hb);
    assert.equal(lookups, 1);
    state.forgetExpected();
    assert.equal(state.peekNamed(b), hb, "no hint: a look-up");
    assert.equal(lookups, 2);
    assert.equal(state.peekNamed("not an id"), -1);
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
