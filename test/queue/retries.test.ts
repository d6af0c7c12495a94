import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffMs } from "../../src/queue/decisions.js";
import { DEFAULT_QUEUE_CONFIG } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import { mustClaim, NO_BACKOFF, openTestQueue } from "./helpers.js";

/** Job `id`, the only job of queue "q", is scheduled to run at `runAt` and cannot be claimed yet. */
async function assertScheduledOnly(queue: Queue, id: string, runAt: number): Promise<void> {
  const stats = await queue.stats("q");
  assert.equal(stats.scheduled, 1);
  assert.equal(stats.pending, 0);
  assert.equal(await queue.claim("q"), null);
  const job = await queue.getJob(id);
  assert.equal(job?.status, "scheduled");
  assert.equal(job?.runAt, runAt);
}

describe("nack, backoff and dead-letter", { timeout: 60_000 }, () => {
  it("with zero backoff a nack re-pends; the re-claim has attempts 2 and lastError", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const id = await queue.enqueue("q", "x");
    await queue.nack(await mustClaim(queue, "q"), "first failure");
    const again = await mustClaim(queue, "q");
    assert.equal(again.id, id);
    assert.equal(again.attempts, 2);
    assert.equal(again.lastError, "first failure");
    await queue.close();
  });

  it("after maxAttempts nacks the job is dead and no longer claimable", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const id = await queue.enqueue("q", "x");
    for (let i = 0; i < 3; i++) await queue.nack(await mustClaim(queue, "q"), `fail ${i}`);
    assert.equal(await queue.claim("q"), null);
    const job = await queue.getJob(id);
    assert.equal(job?.status, "dead");
    assert.equal(job?.attempts, 3);
    assert.equal(job?.lastError, "fail 2");
    assert.deepEqual(await queue.stats("q"), {
      queue: "q",
      pending: 0,
      claimed: 0,
      done: 0,
      dead: 1,
      scheduled: 0,
      paused: false,
    });
    await queue.close();
  });

  it("default backoff parks the nacked job as scheduled, not claimable", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    await queue.nack(await mustClaim(queue, "q"), "later");
    await assertScheduledOnly(queue, id, clock.now() + 1_000);
    await queue.close();
  });

  it("after the backoff elapses the same job is promoted on time and re-claimed", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    await queue.nack(await mustClaim(queue, "q"), "try again");
    clock.advance(999);
    assert.equal(await queue.claim("q"), null);
    // The scheduler timer fires at runAt, without any manual promotion.
    clock.advance(1);
    const again = await mustClaim(queue, "q");
    assert.equal(again.id, id);
    assert.equal(again.attempts, 2);
    assert.equal(again.lastError, "try again");
    await queue.close();
  });

  it("backoff doubles from the base, is capped at the max, and is 0 with a zero base", () => {
    const config = { ...DEFAULT_QUEUE_CONFIG, retryBackoffBaseMs: 1_000, retryBackoffMaxMs: 5_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 100, 5_000].map((a) => backoffMs(config, a)),
      [1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000],
    );
    assert.equal(backoffMs({ ...config, retryBackoffBaseMs: 0 }, 3), 0);
    assert.equal(backoffMs(DEFAULT_QUEUE_CONFIG, 10_000), 300_000);
  });

  it("deadLetter dead-letters at once: attempts stay 1, reason and failedAt set", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    await queue.deadLetter(await mustClaim(queue, "q"), "unrecoverable");
    const job = await queue.getJob(id);
    assert.equal(job?.status, "dead");
    assert.equal(job?.attempts, 1);
    assert.equal(job?.lastError, "unrecoverable");
    assert.equal(job?.failedAt, clock.now());
    const stats = await queue.stats("q");
    assert.equal(stats.dead, 1);
    assert.equal(stats.claimed, 0);
    await queue.close();
  });
});

describe("scheduling", { timeout: 60_000 }, () => {
  it("a future runAt is scheduled, not claimable", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x", { runAt: new Date(clock.now() + 60_000) });
    await assertScheduledOnly(queue, id, clock.now() + 60_000);
    await queue.close();
  });

  it("a past or present runAt is claimable immediately", async () => {
    const { queue, clock } = await openTestQueue();
    const past = await queue.enqueue("q", "past", { runAt: clock.now() - 5_000 });
    const now = await queue.enqueue("q", "now", { runAt: clock.now() });
    assert.equal((await mustClaim(queue, "q")).id, past);
    assert.equal((await mustClaim(queue, "q")).id, now);
    await queue.close();
  });

  it("promoteScheduledNow moves a due job to pending with the same id", async () => {
    // A long scheduler interval and a due time in between: only the manual pass promotes.
    const { queue, clock } = await openTestQueue({ schedulerIntervalMs: 3_600_000 });
    const id = await queue.enqueue("q", "x", { runAt: clock.now() + 10 });
    clock.set(clock.now() + 10);
    await queue.promoteScheduledNow();
    const stats = await queue.stats("q");
    assert.equal(stats.scheduled, 0);
    assert.equal(stats.pending, 1);
    assert.equal((await mustClaim(queue, "q")).id, id);
    await queue.close();
  });

  it("scheduled jobs of several queues are promoted in runAt order as time passes", async () => {
    const { queue, clock } = await openTestQueue();
    const t0 = clock.now();
    const late = await queue.enqueue("b", "late", { runAt: t0 + 5_000 });
    const early = await queue.enqueue("a", "early", { runAt: t0 + 2_000 });
    clock.advance(2_000);
    assert.equal((await mustClaim(queue, "a")).id, early);
    assert.equal(await queue.claim("b"), null);
    clock.advance(3_000);
    assert.equal((await mustClaim(queue, "b")).id, late);
    await queue.close();
  });
});
