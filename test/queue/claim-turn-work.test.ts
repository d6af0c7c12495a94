/**
 * The work of the turn that applies a batch of claims, counted: the claim
 * path read each job's id from its row to write the record, so `apply` takes
 * that row without parsing the id again. What `apply` makes of the records
 * is the same as at replay, which has no such help.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { openTestQueue } from "./helpers.js";
import { countNamedParses } from "./named-parses.js";

describe("the turn that applies a batch of claims", () => {
  it("finds each claimed job by the row it was read from, with no id parsed, and replays the same", async () => {
    const { queue, store } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b", "c", "d", "e"]);
    const state = liveState(queue);
    const parses = countNamedParses(state);
    const claims = await queue.claimBatch("q", 4);
    const single = await queue.claim("q");
    parses.stop();
    assert.equal(claims.length, 4);
    assert.ok(single !== null);
    assert.equal(parses.count(), 0);
    for (const claim of [...claims, single]) await queue.ack(claim);
    assert.equal((await queue.stats("q")).pending, 0);
    assert.deepEqual(auditState(state), []);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(state));
    await queue.close();
  });
});
