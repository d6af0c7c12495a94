import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { Claim } from "../../src/queue/types.js";
import { runWorker } from "../../src/worker/run-worker.js";
import type { JobContext } from "../../src/worker/types.js";
import { openOn, STORES, turns } from "./stores.js";

/** Runs a worker until `stop` aborts; resolves when it ended. */
function work(
  queue: Queue,
  handler: (job: Claim, ctx: JobContext) => unknown,
  stop: AbortController,
  concurrency = 1,
): Promise<void> {
  return runWorker(queue, "work", handler, {
    signal: stop.signal,
    pollIntervalMs: 0,
    concurrency,
    logger: silentLogger,
  });
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await turns(2);
  }
}

for (const kind of STORES) {
  describe(`per-job timeoutMs on ${kind.name}`, { timeout: 60_000 }, () => {
    it("aborts ctx.signal at the deadline (queue clock) and fails the attempt as timed out, then retries", async () => {
      const { queue, clock, store } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 0 },
      });
      const id = await queue.enqueue("work", "slow", { timeoutMs: 1_000 });
      assert.equal((await queue.getJob(id))?.timeoutMs, 1_000);
      const stop = new AbortController();
      const reasons: unknown[] = [];
      let calls = 0;
      const worker = work(
        queue,
        async (_job, ctx) => {
          calls++;
          if (calls === 2) {
            stop.abort();
            return "fast this time";
          }
          await new Promise<void>((resolve) =>
            ctx.signal.addEventListener("abort", () => resolve(), { once: true }),
          );
          reasons.push(ctx.signal.reason);
          return "too late";
        },
        stop,
      );
      await until(() => calls === 1, "the first attempt to start");
      clock.advance(999);
      await turns(10);
      assert.equal(reasons.length, 0, "not before the deadline");
      clock.advance(1);
      await worker;
      assert.equal(reasons.length, 1);
      assert.equal((reasons[0] as DOMException).name, "TimeoutError");
      const job = await queue.getJob(id);
      assert.equal(job?.status, "done", "the retry completed");
      assert.equal(Buffer.from(job!.result!).toString(), "fast this time");
      assert.equal(job?.lastError, "timed out after 1000 ms");
      const history = await queue.attemptHistory(id);
      assert.deepEqual(
        history.map((e) => [e.attempt, e.outcome, e.error]),
        [
          [1, "timed_out", "timed out after 1000 ms"],
          [2, "completed", undefined],
        ],
      );
      await queue.close();
      assert.deepEqual(
        (await QueueReader.open(store, "q")).attemptHistory(id).map((e) => e.outcome),
        ["timed_out", "completed"],
        "durable, and visible to readers",
      );
    });

    it("a timed-out last attempt is dead-lettered; a handler that ignores the signal cannot settle it", async () => {
      const { queue, clock } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
      const id = await queue.enqueue("work", "x", { timeoutMs: 50 });
      const stop = new AbortController();
      let release: () => void = () => {};
      let started = false;
      const worker = work(
        queue,
        () => {
          started = true;
          // Ignores its signal and returns long after the deadline.
          return new Promise((resolve) => {
            release = () => resolve("ignored");
          });
        },
        stop,
      );
      await until(() => started, "the handler to start");
      clock.advance(50);
      await until(async () => (await queue.getJob(id))?.status === "dead", "the job to die");
      assert.equal((await queue.getJob(id))?.lastError, "timed out after 50 ms");
      release();
      stop.abort();
      await worker;
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead", "the late return changed nothing");
      assert.equal(job?.result, undefined);
      assert.deepEqual(
        (await queue.attemptHistory(id)).map((e) => e.outcome),
        ["timed_out"], // the last attempt: dead, by its real cause
      );
      await queue.close();
    });

    it("a handler that finishes in time is acked and its deadline never fires", async () => {
      const { queue, clock } = await openOn(kind);
      const id = await queue.enqueue("work", "x", { timeoutMs: 100 });
      const stop = new AbortController();
      let signal: AbortSignal | undefined;
      await work(
        queue,
        (_job, ctx) => {
          signal = ctx.signal;
          stop.abort();
          return "ok";
        },
        stop,
      );
      clock.advance(1_000);
      await turns(10);
      assert.equal(signal?.aborted, false);
      assert.equal((await queue.getJob(id))?.status, "done");
      await queue.close();
    });

    it("timeoutMs survives a reopen and must be a positive integer", async () => {
      const { queue, reopen } = await openOn(kind);
      const id = await queue.enqueue("work", "x", { timeoutMs: 30_000 });
      await queue.close();
      const again = await reopen();
      assert.equal((await again.getJob(id))?.timeoutMs, 30_000);
      const claim = await again.claim("work");
      assert.equal(claim?.timeoutMs, 30_000);
      for (const bad of [0, -1, 1.5, "10", Number.POSITIVE_INFINITY]) {
        await assert.rejects(
          again.enqueue("work", "y", { timeoutMs: bad as number }),
          (error: Error & { code?: string }) =>
            error.code === "INVALID_ARGUMENT" &&
            /Expected `options\.timeoutMs` to be a positive integer number of milliseconds/.test(
              error.message,
            ),
        );
      }
      assert.equal((await again.stats("work")).pending, 0, "nothing enqueued");
      await again.close();
    });
  });
}
