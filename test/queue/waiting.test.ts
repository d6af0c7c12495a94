import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Claim } from "../../src/queue/types.js";
import { openTestQueue } from "./helpers.js";

describe("claim with waitMs", { timeout: 60_000 }, () => {
  it("returns null after waitMs on an idle queue (following the injected clock)", async () => {
    const { queue, clock } = await openTestQueue();
    let result: Claim | null | "waiting" = "waiting";
    const waiting = queue.claim("q", { waitMs: 1_000 }).then((c) => {
      result = c;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(result, "waiting");
    clock.advance(1_000);
    await waiting;
    assert.equal(result, null);
    await queue.close();
  });

  it("wakes as soon as a job is enqueued", async () => {
    const { queue } = await openTestQueue();
    const waiting = queue.claim("q", { waitMs: 60_000 });
    const id = await queue.enqueue("q", "x");
    assert.equal((await waiting)?.id, id);
    await queue.close();
  });

  it("wakes one waiter per job, oldest first; the others keep waiting", async () => {
    const { queue, clock } = await openTestQueue();
    const settled: Array<string | null> = [];
    const waiters = [0, 1, 2].map((i) =>
      queue.claim("q", { waitMs: 10_000 }).then((c) => {
        settled.push(c === null ? null : `${i}:${Buffer.from(c.payload).toString()}`);
        return c;
      }),
    );
    await queue.enqueue("q", "first");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(settled, ["0:first"]);
    await queue.enqueueBatch("q", ["second"]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(settled, ["0:first", "1:second"]);
    assert.equal((await queue.stats("q")).claimed, 2);
    clock.advance(10_000);
    await Promise.all(waiters);
    assert.deepEqual(settled, ["0:first", "1:second", null]);
    await queue.close();
  });

  it("a waiter is woken by a promotion, a zero-backoff nack and a requeue", async () => {
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2 },
    });
    const id = await queue.enqueue("q", "x", { runAt: clock.now() + 500 });
    const byPromotion = queue.claim("q", { waitMs: 60_000 });
    clock.advance(500);
    const claim = await byPromotion;
    assert.equal(claim?.id, id);
    const byNack = queue.claim("q", { waitMs: 60_000 });
    await queue.nack(claim!, "again");
    const second = await byNack;
    assert.equal(second?.attempts, 2);
    await queue.nack(second!, "dead now");
    const byRequeue = queue.claim("q", { waitMs: 60_000 });
    await queue.requeueDeadJob(id);
    assert.equal((await byRequeue)?.id, id);
    await queue.close();
  });

  it("close ends pending waiters with null", async () => {
    const { queue } = await openTestQueue();
    const waiting = queue.claim("q", { waitMs: 60_000 });
    await queue.close();
    assert.equal(await waiting, null);
  });

  it("an aborted signal ends the wait with null", async () => {
    const { queue } = await openTestQueue();
    const controller = new AbortController();
    const waiting = queue.claim("q", { waitMs: 60_000, signal: controller.signal });
    controller.abort();
    assert.equal(await waiting, null);
    // The aborted waiter does not swallow the next job.
    await queue.enqueue("q", "x");
    assert.equal((await queue.stats("q")).pending, 1);
    await queue.close();
  });
});
