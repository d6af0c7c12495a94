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
import { type FlowJob, MAX_FLOW_DEPTH, MAX_FLOW_JOBS } from "../../src/queue/flows.js";
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

  it("a flow past MAX_FLOW_JOBS says how many it got; a job inside itself is a cycle, not too deep", async () => {
    const { queue } = await openTestQueue();
    const before = stateDigest(liveState(queue));
    const leaves = (n: number): FlowJob[] =>
      Array.from({ length: n }, () => ({ queue: "leaf", payload: "" }));
    const tooMany = await rejection(
      queue.enqueueFlow({ queue: "root", payload: "r", children: leaves(MAX_FLOW_JOBS) }),
    );
    assert.ok(tooMany instanceof InvalidArgumentError, String(tooMany));
    assert.equal(
      tooMany.message,
      `Expected \`flow\` to be a flow of at most ${MAX_FLOW_JOBS} jobs (MAX_FLOW_JOBS), got more than ${MAX_FLOW_JOBS} jobs`,
    );
    // Counting stops one past the limit: a much bigger flow reads the same.
    const wayTooMany = await rejection(
      queue.enqueueFlow({ queue: "root", payload: "r", children: leaves(3 * MAX_FLOW_JOBS) }),
    );
    assert.equal(wayTooMany.message, tooMany.message);
    const self: FlowJob = { queue: "root", payload: "r", children: [] };
    self.children!.push({ queue: "leaf", payload: "l" }, self);
    const selfCycle = await rejection(queue.enqueueFlow(self));
    assert.ok(selfCycle instanceof InvalidArgumentError, String(selfCycle));
    assert.equal(
      selfCycle.message,
      "Expected `flow.children[1]` to be a flow job that is not one of its own ancestors (a flow is a tree), got the job `flow` again (a cycle)",
    );
    const mid: FlowJob = { queue: "mid", payload: "m", children: [] };
    const root: FlowJob = { queue: "root", payload: "r", children: [mid] };
    mid.children!.push({ queue: "leaf", payload: "l", children: [mid] });
    const deeper = await rejection(queue.enqueueFlow(root));
    assert.match(
      deeper.message,
      /^Expected `flow\.children\[0\]\.children\[0\]\.children\[0\]` to be .*, got the job `flow\.children\[0\]` again \(a cycle\)$/,
    );
    assert.equal(stateDigest(liveState(queue)), before);
    // One job object twice, neither inside the other, is two jobs: no cycle.
    const shared: FlowJob = { queue: "leaf", payload: "same" };
    const twice = await queue.enqueueFlow({
      queue: "root",
      payload: "r",
      children: [shared, shared],
    });
    assert.equal(twice.children.length, 2);
    assert.notEqual(twice.children[0]!.id, twice.children[1]!.id);
    await queue.close();
  });
});
