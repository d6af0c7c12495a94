/**
 * How deep a flow may nest. Checking a flow and every step that follows a
 * flow's links (a dead child's end going up, a requeue going down, a cancel
 * or removal going down, replay) walks it by recursion, one stack frame per
 * level: a flow nested deeper than the stack is refused with a typed error
 * before anything is written, and one nested as deep as allowed goes through
 * every step, a replay and a reopen from a checkpoint.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { type FlowJob, MAX_FLOW_DEPTH } from "../../src/queue/flows.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { mustClaim, openTestQueue, rejection } from "./helpers.js";

/** A chain of `depth` jobs: the root in "chain", each with one child, the last in "leaf". */
function chain(depth: number): FlowJob {
  let flow: FlowJob = { queue: "leaf", payload: "leaf" };
  for (let level = 1; level < depth; level++)
    flow = { queue: "chain", payload: String(level), children: [flow] };
  return flow;
}

describe("flow depth", { timeout: 120_000 }, () => {
  it("a flow nested deeper than MAX_FLOW_DEPTH is refused with InvalidArgumentError, nothing written", async () => {
    const { queue } = await openTestQueue();
    const before = stateDigest(liveState(queue));
    for (const depth of [MAX_FLOW_DEPTH + 1, 5_000, 9_000]) {
      const error = await rejection(queue.enqueueFlow(chain(depth)));
      assert.ok(error instanceof InvalidArgumentError, `depth ${depth}: ${String(error)}`);
      assert.match(error.message, /nested at most/);
    }
    assert.equal(stateDigest(liveState(queue)), before);
    assert.deepEqual(await queue.listQueues(), []);
    await queue.close();
  });

  it("a flow nested MAX_FLOW_DEPTH deep dies, is requeued, replays, reopens and is cancelled whole", async () => {
    const store = new MemoryStore();
    const options = { defaultQueueConfig: { maxAttempts: 1 } };
    const { queue, clock } = await openTestQueue(options, store);
    const root = await queue.enqueueFlow(chain(MAX_FLOW_DEPTH));
    const leaf = await mustClaim(queue, "leaf");
    await queue.nack(leaf, "boom");
    assert.equal((await queue.getJob(root.id))?.status, "dead");
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.requeueDeadJob(leaf.id);
    assert.equal((await queue.getJob(root.id))?.status, "scheduled");
    assert.equal((await queue.getJob(leaf.id))?.status, "pending");
    const live = stateDigest(liveState(queue));
    assert.equal(stateDigest(await replayedState(store, "q")), live, "replayed from the log");
    await queue.close();
    const again = (await openTestQueue(options, store, clock)).queue;
    assert.equal(stateDigest(liveState(again)), live, "reopened from a checkpoint");
    assert.equal(await again.cancel(root.id), "removed");
    assert.equal(await again.getJob(leaf.id), null);
    assert.deepEqual(auditState(liveState(again)), []);
    await again.close();
  });
});
