/**
 * Removing a child its parent still waits for makes the parent dead ("child
 * <id> was removed"): clearing jobs out never lets a parent run on a missing
 * input unnoticed. The same holds when the open child is removed after the
 * parent went dead because of another child: the parent's lastError then
 * names the removal, and requeueing that dead flow is refused
 * (`JobNotFoundError` naming the removed child) instead of letting the parent
 * run as if the removed child had completed. The mark survives a replay (a
 * takeover, as after SIGKILL) and a checkpoint.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import {
  FlowNotRequeueableError,
  InvalidArgumentError,
  JobNotFoundError,
} from "../../src/errors.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import type { ObjectStore } from "../../src/store/types.js";
import { auditState, liveState, stateDigest } from "../reliability/lib/audit.js";
import { memoryAndFileStores, mustClaim, openTestQueue } from "./helpers.js";

const ONE_ATTEMPT: OpenOptions = { defaultQueueConfig: { maxAttempts: 1 } };

const STORES = memoryAndFileStores("taquba-flows-");

/** The state is sound and a checkpoint of it decodes to the same. */
function assertSound(queue: Queue): void {
  const state = liveState(queue);
  assert.deepEqual(auditState(state), []);
  assert.equal(stateDigest(decodeSnapshot(encodeSnapshot(state))), stateDigest(state));
}

/** Replayed by a takeover (as after SIGKILL), then reopened from a checkpoint: the same state. */
async function reopened(queue: Queue, store: ObjectStore, clock: ManualClock): Promise<Queue> {
  const before = stateDigest(liveState(queue));
  const takeover = (await openTestQueue(ONE_ATTEMPT, store, clock)).queue;
  assert.equal(stateDigest(liveState(takeover)), before, "replayed after a takeover");
  await takeover.close();
  await queue.close().catch(() => {}); // fenced by the takeover
  const again = (await openTestQueue(ONE_ATTEMPT, store, clock)).queue;
  assert.equal(stateDigest(liveState(again)), before, "reopened from a checkpoint");
  assertSound(again);
  return again;
}

for (const [storeName, makeStore] of STORES)
  describe(`requeue of a dead flow whose children were partly removed (${storeName})`, () => {
    it("a child removed while its parent is dead keeps the flow from being requeued", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue(ONE_ATTEMPT, store, clock);
      const flow = await queue.enqueueFlow({
        queue: "parent",
        payload: "P",
        children: [
          { queue: "a", payload: "A" },
          { queue: "b", payload: "B" },
        ],
      });
      const [a, b] = flow.children;
      await queue.nack(await mustClaim(queue, "a"), "boom");
      assert.equal((await queue.getJob(flow.id))?.status, "dead");
      assert.equal(await queue.removeJob(b!.id), true);
      const removedError = `child ${b!.id} was removed`;
      assert.equal((await queue.getJob(flow.id))?.lastError, removedError, "the operator is told");
      assertSound(queue);
      const q = await reopened(queue, store, clock);
      const digest = stateDigest(liveState(q));
      for (const id of [a!.id, flow.id])
        await assert.rejects(
          q.requeueDeadJob(id),
          (e: unknown) =>
            e instanceof FlowNotRequeueableError &&
            e instanceof JobNotFoundError &&
            e.code === "JOB_NOT_FOUND" &&
            e.removedChild === b!.id &&
            e.message.includes(`child ${b!.id} of job ${flow.id} was removed`),
        );
      assert.equal(await q.requeueDeadJobs("a"), 0, "the bulk requeue leaves that flow dead");
      assert.equal(await q.requeueDeadJobs("parent"), 0);
      assert.equal(stateDigest(liveState(q)), digest, "nothing changed");
      // B never ran: P must not run as if it had.
      assert.equal(await q.claim("a"), null);
      assert.equal(await q.claim("parent"), null);
      assert.equal((await q.getJob(flow.id))?.status, "dead");
      // Removing the dead parent unlinks A, which can then be requeued on its own.
      assert.equal(await q.removeJob(flow.id), true);
      await q.requeueDeadJob(a!.id);
      assert.equal((await mustClaim(q, "a")).id, a!.id);
      assertSound(q);
      await q.close();
    });

    it("a parent made dead by a removed child is not requeued either, nor its root", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue(ONE_ATTEMPT, store, clock);
      const flow = await queue.enqueueFlow({
        queue: "root",
        payload: "R",
        children: [{ queue: "mid", payload: "M", children: [{ queue: "leaf", payload: "L" }] }],
      });
      const mid = flow.children[0]!;
      const leaf = mid.children[0]!;
      assert.equal(await queue.removeJob(leaf.id), true);
      assert.equal((await queue.getJob(mid.id))?.lastError, `child ${leaf.id} was removed`);
      const q = await reopened(queue, store, clock);
      await assert.rejects(q.requeueDeadJob(flow.id), JobNotFoundError);
      await assert.rejects(q.requeueDeadJob(mid.id), JobNotFoundError);
      assert.equal((await q.getJob(flow.id))?.status, "dead");
      assert.equal(await q.claim("mid"), null);
      assert.equal(await q.claim("root"), null);
      await q.close();
    });
  });

describe("job arguments", () => {
  it("removeJob and requeueDeadJob name the bad value they got", async () => {
    const { queue } = await openTestQueue();
    for (const call of [
      () => queue.removeJob(5 as unknown as string),
      () => queue.requeueDeadJob(5 as unknown as string),
    ])
      await assert.rejects(
        call(),
        (e: unknown) => e instanceof InvalidArgumentError && /got 5\b/.test(e.message),
      );
    await queue.close();
  });
});
