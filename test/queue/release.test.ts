import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mustClaim, openTestQueue, rejection, text } from "./helpers.js";

describe("Queue.release", { timeout: 30_000 }, () => {
  it("puts an unrun claim back first in line with its attempt given back, durably", async () => {
    const { queue, store } = await openTestQueue();
    const [first] = await queue.enqueueBatch("q", ["a", "b"]);
    const claim = await mustClaim(queue, "q");
    assert.equal(claim.attempts, 1);
    await queue.release(claim);
    const job = await queue.getJob(first!);
    assert.deepEqual([job?.status, job?.attempts], ["pending", 0]);
    assert.equal((await queue.stats("q")).claimed, 0);
    // No close: what release resolved for must survive a crash.
    const { queue: reopened } = await openTestQueue({}, store);
    const again = await mustClaim(reopened, "q");
    assert.equal(text(again.payload), "a", "the released job keeps its place");
    assert.equal(again.attempts, 1);
    await reopened.close();
  });

  it("keeps lastError from earlier failed attempts", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { retryBackoffBaseMs: 0 } });
    const id = await queue.enqueue("q", "x");
    await queue.nack(await mustClaim(queue, "q"), "boom");
    const second = await mustClaim(queue, "q");
    await queue.release(second);
    const job = await queue.getJob(id);
    assert.deepEqual([job?.status, job?.attempts, job?.lastError], ["pending", 1, "boom"]);
    await queue.close();
  });

  it("removes a job whose cancellation was requested", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    assert.equal(await queue.cancel(id), "requested");
    await queue.release(claim);
    assert.equal(await queue.getJob(id), null);
    await queue.close();
  });

  it("wakes a waiting claimer", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    const waiting = queue.claim("q", { waitMs: 60_000 });
    await queue.release(claim);
    const next = await waiting;
    assert.equal(next?.id, claim.id);
    await queue.close();
  });

  it("a claim that is no longer live is refused with ClaimLostError and changes nothing", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { keepDoneJobsMs: 60_000 } });
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    await queue.ack(claim);
    assert.equal((await rejection(queue.release(claim))).code, "CLAIM_LOST");
    const job = await queue.getJob(id);
    assert.deepEqual([job?.status, job?.attempts], ["done", 1]);
    await queue.close();
  });
});
