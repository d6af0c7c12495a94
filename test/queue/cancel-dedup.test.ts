import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mustClaim, NO_BACKOFF, openTestQueue } from "./helpers.js";

describe("cancel", { timeout: 60_000 }, () => {
  it("cancel removes a pending job", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    assert.equal(await queue.cancel(id), "removed");
    assert.equal(await queue.claim("q"), null);
    assert.equal(await queue.getJob(id), null);
    assert.equal((await queue.stats("q")).pending, 0);
    await queue.close();
  });

  it("cancel removes a scheduled job and decrements scheduled", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x", { runAt: clock.now() + 10_000 });
    assert.equal(await queue.cancel(id), "removed");
    assert.equal((await queue.stats("q")).scheduled, 0);
    clock.advance(10_000);
    assert.equal(await queue.claim("q"), null);
    await queue.close();
  });

  it("cancel of a claimed job is requested: its signal aborts and ack still completes it", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    const signal = queue.claimSignal(claim);
    assert.equal(signal.aborted, false);
    assert.equal(await queue.cancel(id), "requested");
    assert.equal(signal.aborted, true);
    await queue.ack(claim);
    assert.equal((await queue.stats("q")).done, 1);
    await queue.close();
  });

  it("a cancel requested during the delivery survives a nack: the job is removed, not retried", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    assert.equal(await queue.cancel(id), "requested");
    await queue.nack(claim, "aborted");
    assert.equal(await queue.getJob(id), null);
    assert.equal(await queue.claim("q"), null);
    const stats = await queue.stats("q");
    assert.deepEqual([stats.pending, stats.claimed, stats.scheduled], [0, 0, 0]);
    await queue.close();
  });

  it("a cancel requested during the delivery survives lease expiry", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    await mustClaim(queue, "q", 1_000);
    assert.equal(await queue.cancel(id), "requested");
    clock.advance(1_000);
    await queue.reapNow();
    assert.equal(await queue.getJob(id), null);
    assert.equal(await queue.claim("q"), null);
    await queue.close();
  });

  it("done, dead and unknown jobs are not_found", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { keepDoneJobsMs: 60_000 } });
    const done = await queue.enqueue("q", "done");
    await queue.ack(await mustClaim(queue, "q"));
    const dead = await queue.enqueue("q", "dead");
    await queue.deadLetter(await mustClaim(queue, "q"), "dead");
    assert.equal(await queue.cancel(done), "not_found");
    assert.equal(await queue.cancel(dead), "not_found");
    assert.equal(await queue.cancel("01ARZ3NDEKTSV4RRFFQ69G5FAV"), "not_found");
    assert.equal((await queue.getJob(dead))?.status, "dead");
    await queue.close();
  });
});

describe("dedup", { timeout: 60_000 }, () => {
  it("a second enqueue with the same key returns the first id; pending stays 1", async () => {
    const { queue } = await openTestQueue();
    const first = await queue.enqueue("q", "a", { dedupKey: "k" });
    const second = await queue.enqueue("q", "b", { dedupKey: "k" });
    assert.equal(second, first);
    assert.equal((await queue.stats("q")).pending, 1);
    // The key is per queue.
    assert.notEqual(await queue.enqueue("other", "c", { dedupKey: "k" }), first);
    await queue.close();
  });

  it("the key also holds for a scheduled job", async () => {
    const { queue, clock } = await openTestQueue();
    const first = await queue.enqueue("q", "a", { dedupKey: "k", runAt: clock.now() + 1_000 });
    assert.equal(await queue.enqueue("q", "b", { dedupKey: "k" }), first);
    await queue.close();
  });

  it("the key is released on claim: a new enqueue gets a new id", async () => {
    const { queue } = await openTestQueue();
    const first = await queue.enqueue("q", "a", { dedupKey: "k" });
    const claim = await mustClaim(queue, "q");
    assert.equal(claim.dedupKey, undefined);
    const second = await queue.enqueue("q", "b", { dedupKey: "k" });
    assert.notEqual(second, first);
    await queue.close();
  });

  it("the key is released on cancel", async () => {
    const { queue } = await openTestQueue();
    const first = await queue.enqueue("q", "a", { dedupKey: "k" });
    await queue.cancel(first);
    assert.notEqual(await queue.enqueue("q", "b", { dedupKey: "k" }), first);
    await queue.close();
  });

  it("nack then re-enqueue does not corrupt dedup: the new holder keeps blocking", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const first = await queue.enqueue("q", "a", { dedupKey: "k" });
    const claim = await mustClaim(queue, "q");
    const second = await queue.enqueue("q", "b", { dedupKey: "k" });
    await queue.nack(claim, "retry");
    const retried = await mustClaim(queue, "q");
    assert.equal(retried.id, first);
    assert.equal(await queue.enqueue("q", "c", { dedupKey: "k" }), second);
    assert.equal((await queue.getJob(second))?.dedupKey, "k");
    await queue.close();
  });
});
