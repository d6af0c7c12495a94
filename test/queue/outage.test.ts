import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { mustClaim } from "./helpers.js";

/** Resolves once `condition()` holds, checking every few real milliseconds (the log runs on real time). */
async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Advances the queue's clock in small steps, letting timers and I/O run in between. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 50) {
    clock.advance(50);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function options(clock: ManualClock): OpenOptions {
  return {
    clock,
    logger: silentLogger,
    flushIntervalMs: 0,
    reaperIntervalMs: 100,
    schedulerIntervalMs: 100,
    defaultQueueConfig: { retryBackoffBaseMs: 0 },
    queueConfigs: { kept: { keepDoneJobsMs: 1_000 } },
    // The log retries on real time, for far longer than the outage lasts.
    log: { retry: { baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 60_000 } },
  };
}

describe("a transient store outage", { timeout: 60_000 }, () => {
  it("stalls the worker, reaper, scheduler and sweeps, which all resume when it ends", async () => {
    const clock = new ManualClock();
    const memory = new MemoryStore();
    const faults = new FaultStore(memory);
    const queue = await Queue.open(faults, "q", options(clock));

    // A kept done job (to be swept), a claim that will expire, a job due later.
    const done = await queue.enqueue("kept", "done soon");
    await queue.ack(await mustClaim(queue, "kept"));
    const expiring = await queue.enqueue("lease", "abandoned");
    await mustClaim(queue, "lease", 500);
    const scheduled = await queue.enqueue("work", "later", { runAt: clock.now() + 500 });
    const before = await queue.enqueue("work", "before the outage");

    // Every request fails from here on.
    const clear = faults.addRule({ mode: "before" });
    const handled: string[] = [];
    const shutdown = new AbortController();
    const worker = runWorker(queue, "work", (job) => void handled.push(job.id), {
      pollIntervalMs: 50,
      concurrency: 2,
      signal: shutdown.signal,
      logger: silentLogger,
    });
    const during = queue.enqueue("work", "during the outage");
    await advance(clock, 2_000); // the lease runs out, the job comes due, the done job ages out
    await new Promise((resolve) => setTimeout(resolve, 100)); // a few failed retries, real time
    assert.equal(queue.closed, false, "a transient outage must not fail the queue");
    assert.deepEqual(handled, [], "no handler runs on a claim that cannot be made durable");

    clear();
    const duringId = await during;
    await until(async () => handled.length === 3, "the worker to resume");
    assert.deepEqual([...handled].sort(), [scheduled, before, duringId].sort());
    await until(
      async () => (await queue.getJob(expiring))?.lastError === "lease expired",
      "the reaper to expire the abandoned lease",
    );
    await until(async () => (await queue.getJob(done)) === null, "the sweep of the done job");
    await until(
      async () => (await queue.getJob(scheduled)) === null,
      "the scheduled job to be promoted and done",
    );
    await advance(clock, 200);
    shutdown.abort();
    await worker;
    await queue.flush();

    // What the store holds says the same.
    await queue.close();
    const reopened = await Queue.open(memory, "q", options(clock));
    const lease = await reopened.getJob(expiring);
    assert.equal(lease?.status, "pending");
    assert.equal(lease?.attempts, 1);
    for (const id of [scheduled, before, duringId]) assert.equal(await reopened.getJob(id), null);
    assert.equal(await reopened.getJob(done), null);
    const kept = await reopened.stats("kept");
    assert.deepEqual([kept.done, kept.pending, kept.claimed], [1, 0, 0]);
    assert.equal((await reopened.stats("work")).done, 3);
    await reopened.close();
  });
});
