import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NORMAL } from "../../src/queue/types.js";
import { mustClaim, NO_BACKOFF, openTestQueue, text } from "./helpers.js";

describe("queue basics", { timeout: 60_000 }, () => {
  it("enqueue then claim returns the job claimed, attempts 1, with a lease", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("emails", "hello");
    const claim = await mustClaim(queue, "emails");
    assert.equal(claim.id, id);
    assert.equal(claim.queue, "emails");
    assert.equal(text(claim.payload), "hello");
    assert.equal(claim.status, "claimed");
    assert.equal(claim.attempts, 1);
    assert.equal(claim.claimedAt, clock.now());
    assert.equal(claim.leaseExpiresAt, clock.now() + 30_000);
    await queue.close();
  });

  it("claiming an empty queue returns null", async () => {
    const { queue } = await openTestQueue();
    assert.equal(await queue.claim("nothing"), null);
    await queue.close();
  });

  it("after ack nothing is claimable", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("a", "x");
    await queue.ack(await mustClaim(queue, "a"));
    assert.equal(await queue.claim("a"), null);
    await queue.close();
  });

  it("jobs are claimable only from their own queue, also for prefix-sharing names", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("a", "for a");
    await queue.enqueue("a:b", "for a:b");
    assert.equal(await queue.claim("b"), null);
    assert.equal(text((await mustClaim(queue, "a:b")).payload), "for a:b");
    assert.equal(text((await mustClaim(queue, "a")).payload), "for a");
    assert.equal(await queue.claim("a"), null);
    await queue.close();
  });

  it("a per-queue override supplies maxAttempts and the lease used by claim", async () => {
    const { queue, clock } = await openTestQueue({
      queueConfigs: { special: { maxAttempts: 7, leaseMs: 1_234 } },
    });
    await queue.enqueue("special", "x");
    await queue.enqueue("plain", "y");
    const special = await mustClaim(queue, "special");
    assert.equal(special.maxAttempts, 7);
    assert.equal(special.leaseExpiresAt, clock.now() + 1_234);
    const plain = await mustClaim(queue, "plain");
    assert.equal(plain.maxAttempts, 3);
    assert.equal(plain.leaseExpiresAt, clock.now() + 30_000);
    await queue.close();
  });

  it("enqueueBatch makes every job pending, claimed in returned-id order", async () => {
    const { queue } = await openTestQueue();
    const ids = await queue.enqueueBatch("batch", ["one", "two", new Uint8Array([3])]);
    assert.equal(ids.length, 3);
    assert.deepEqual([...ids].sort(), ids, "ids increase in input order");
    assert.equal((await queue.stats("batch")).pending, 3);
    for (const id of ids) assert.equal((await mustClaim(queue, "batch")).id, id);
    await queue.close();
  });

  it("an empty batch returns no ids and writes nothing", async () => {
    const { queue } = await openTestQueue();
    const before = queue.logStats().recordsWritten;
    assert.deepEqual(await queue.enqueueBatch("batch", []), []);
    await queue.flush();
    assert.equal(queue.logStats().recordsWritten, before);
    assert.deepEqual(await queue.listQueues(), []);
    await queue.close();
  });
});

describe("ordering", { timeout: 60_000 }, () => {
  it("equal-priority jobs are claimed in enqueue order, even within one millisecond", async () => {
    const { queue } = await openTestQueue();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await queue.enqueue("fifo", `job ${i}`));
    assert.deepEqual([...ids].sort(), ids);
    for (const id of ids) assert.equal((await mustClaim(queue, "fifo")).id, id);
    await queue.close();
  });

  it("HIGH before NORMAL before LOW regardless of insertion order", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("p", "low", { priority: PRIORITY_LOW });
    await queue.enqueue("p", "normal");
    await queue.enqueue("p", "high", { priority: PRIORITY_HIGH });
    const order = [];
    for (let i = 0; i < 3; i++) order.push(text((await mustClaim(queue, "p")).payload));
    assert.deepEqual(order, ["high", "normal", "low"]);
    await queue.close();
  });

  it("FIFO holds inside one priority", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("p", "h1", { priority: PRIORITY_HIGH });
    await queue.enqueue("p", "n1");
    await queue.enqueue("p", "h2", { priority: PRIORITY_HIGH });
    await queue.enqueue("p", "n2");
    const order = [];
    for (let i = 0; i < 4; i++) order.push(text((await mustClaim(queue, "p")).payload));
    assert.deepEqual(order, ["h1", "h2", "n1", "n2"]);
    await queue.close();
  });

  it("a nacked high-priority job is re-claimed before a normal one and keeps its priority", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    await queue.enqueue("p", "high", { priority: PRIORITY_HIGH });
    const claim = await mustClaim(queue, "p");
    await queue.enqueue("p", "normal");
    await queue.nack(claim, "boom");
    const again = await mustClaim(queue, "p");
    assert.equal(again.id, claim.id);
    assert.equal(again.priority, PRIORITY_HIGH);
    await queue.close();
  });

  it("the record carries the requested priority (default NORMAL)", async () => {
    const { queue } = await openTestQueue();
    const a = await queue.enqueue("p", "a", { priority: 42 });
    const b = await queue.enqueue("p", "b");
    assert.equal((await queue.getJob(a))?.priority, 42);
    assert.equal((await queue.getJob(b))?.priority, PRIORITY_NORMAL);
    await queue.close();
  });

  it("after promotion a scheduled normal job still sorts behind a later high-priority job", async () => {
    const { queue, clock } = await openTestQueue();
    const scheduled = await queue.enqueue("p", "scheduled", { runAt: clock.now() + 1_000 });
    clock.advance(1_000);
    await queue.promoteScheduledNow();
    const high = await queue.enqueue("p", "high", { priority: PRIORITY_HIGH });
    assert.equal((await mustClaim(queue, "p")).id, high);
    assert.equal((await mustClaim(queue, "p")).id, scheduled);
    await queue.close();
  });
});
