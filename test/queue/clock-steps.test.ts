import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { until } from "../until.js";
import { mustClaim, openTestQueue, steppedClocks, turns } from "./helpers.js";

/** Moves time forward (both readings) in small steps, letting work run in between. */
async function pass(clock: ManualClock, ms: number, step = 10): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await turns(2);
  }
}

const TIMERS = { reaperIntervalMs: 100, schedulerIntervalMs: 100 };

describe("wall-clock steps", { timeout: 60_000 }, () => {
  it("a step back of 10 s stalls nothing: writes, claims, waits and lease expiry go on", async () => {
    const { queue, clock } = await openTestQueue(TIMERS);
    await queue.enqueue("q", "abandoned");
    const abandoned = await mustClaim(queue, "q", 1_000);
    clock.stepWall(-10_000);
    // Writes and claims complete without time passing.
    const id = await queue.enqueue("q", "after the step");
    const claim = await mustClaim(queue, "q");
    assert.equal(claim.id, id);
    await queue.ack(claim);
    // A claim wait ends after its own length, not when the wall catches up.
    const waiting = queue.claim("q", { waitMs: 500 });
    let waited: unknown = "pending";
    waiting.then((value) => {
      waited = value;
    });
    await pass(clock, 500);
    await turns();
    assert.equal(waited, null);
    // The abandoned lease expires on time (1 s of monotonic time after its claim).
    await pass(clock, 600);
    const job = await queue.getJob(abandoned.id);
    assert.equal(job?.status, "pending");
    assert.equal(job?.lastError, "lease expired");
    await queue.close();
  });

  it("a step forward does not expire live leases", async () => {
    const { queue, clock } = await openTestQueue(TIMERS);
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", 1_000);
    clock.stepWall(60_000);
    await pass(clock, 500);
    await queue.reapNow();
    const job = await queue.getJob(id);
    assert.equal(job?.status, "claimed");
    // Reported in wall time, as seen after the step: 500 ms of the lease are left.
    assert.equal(job?.leaseExpiresAt, clock.now() + 500);
    assert.equal(await queue.renewLease(claim, 1_000), clock.now() + 1_000);
    await queue.ack(claim);
    assert.equal(await queue.getJob(id), null);
    await queue.close();
  });

  it("the scheduler promotes runAt jobs by wall time, across steps both ways", async () => {
    const { queue, clock } = await openTestQueue(TIMERS);
    const start = clock.now();
    const soon = await queue.enqueue("q", "soon", { runAt: start + 1_000 });
    const later = await queue.enqueue("q", "later", { runAt: start + 60_000 });
    // A step forward past `later`'s runAt: promoted within a scheduler interval.
    clock.stepWall(60_000);
    await pass(clock, 100);
    assert.equal((await queue.getJob(soon))?.status, "pending");
    assert.equal((await queue.getJob(later))?.status, "pending");
    // A step back: a job due 1 s from now (wall) waits for the wall to get there, and no longer.
    clock.stepWall(-120_000);
    const back = await queue.enqueue("q", "after the step back", { runAt: clock.now() + 1_000 });
    await pass(clock, 900);
    assert.equal((await queue.getJob(back))?.status, "scheduled");
    await pass(clock, 200);
    assert.equal((await queue.getJob(back))?.status, "pending");
    await queue.close();
  });

  it("runWorker keeps a lease renewed across a step forward and completes the job once", async () => {
    const { queue, clock } = await openTestQueue(TIMERS);
    const id = await queue.enqueue("q", "long");
    let calls = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async () => {
        calls++;
        await released;
      },
      { leaseMs: 1_000, signal: shutdown.signal },
    );
    await pass(clock, 50);
    clock.stepWall(3_600_000);
    await pass(clock, 2_000, 50);
    clock.stepWall(-7_200_000);
    await pass(clock, 2_000, 50);
    assert.equal((await queue.getJob(id))?.status, "claimed");
    release();
    for (let i = 0; i < 100 && (await queue.stats("q")).done === 0; i++) await turns();
    shutdown.abort();
    await worker;
    assert.equal(calls, 1);
    assert.equal((await queue.stats("q")).done, 1);
    await queue.close();
  });

  for (const { kind, clock, step } of steppedClocks()) {
    it(`a step forward of a clock taquba cannot see move (${kind}) expires the leases and times out the jobs it ends within one scheduler interval`, async () => {
      // Such a clock runs on real time: the interval is short, and so is the wait.
      const queue = await Queue.open(new MemoryStore(), "q", {
        clock,
        logger: silentLogger,
        flushIntervalMs: 0,
        schedulerIntervalMs: 50,
        reaperIntervalMs: 60_000,
      });
      const abandoned = await queue.enqueue("q", "abandoned");
      await mustClaim(queue, "q", 30_000);
      const slow = await queue.enqueue("w", "slow", { timeoutMs: 60_000, maxAttempts: 1 });
      const shutdown = new AbortController();
      let started!: () => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const worker = runWorker(
        queue,
        "w",
        (_job, ctx) => {
          started();
          return new Promise<void>((resolve) =>
            ctx.signal.addEventListener("abort", () => resolve()),
          );
        },
        { leaseMs: 3_600_000, signal: shutdown.signal },
      );
      try {
        await running; // its deadline is armed
        step(120_000);
        // Without re-reading the clock, the reaper and the deadline wait the real minute they were armed for.
        await until(
          async () => (await queue.getJob(abandoned))?.status === "pending",
          "the abandoned lease expired",
          500,
        );
        assert.equal((await queue.getJob(abandoned))?.lastError, "lease expired");
        await until(
          async () => (await queue.getJob(slow))?.status === "dead",
          "the slow job timed out",
          500,
        );
        assert.equal((await queue.getJob(slow))?.lastError, "timed out after 60000 ms");
      } finally {
        shutdown.abort();
        await worker;
        await queue.close();
      }
    });
  }
});
