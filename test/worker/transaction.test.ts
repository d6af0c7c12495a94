import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runWorker } from "../../src/worker/run-worker.js";
import { NO_BACKOFF, openTestQueue, text } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

describe("ctx.transaction under runWorker", { timeout: 60_000 }, () => {
  it("settles the job with its follow-up work; the worker does not settle it again", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { keepDoneJobsMs: 60_000 } });
    const logger = recordingLogger();
    await queue.enqueueBatch("charge", ["o1", "o2"]);
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "charge",
      async (job, ctx) => {
        const order = text(job.payload);
        await ctx.transaction((tx) => {
          tx.ack(job, { result: `charged ${order}` });
          tx.enqueue("ship", order, { jobId: `ship-${order}` });
          tx.kvPut(`order/${order}`, "charged");
        });
        return "ignored: the transaction settled the job";
      },
      { signal: shutdown.signal, logger },
    );
    await until(async () => (await queue.stats("charge")).done === 2);
    shutdown.abort();
    await worker;
    assert.deepEqual(logger.messages("warn", "error"), []);
    assert.equal((await queue.stats("ship")).pending, 2);
    assert.equal(text((await queue.kvGet("order/o2"))!), "charged");
    const [done] = (await queue.listJobs("charge", "done")).jobs;
    assert.equal(text(done!.result!), "charged o1");
    await queue.close();
  });

  it("a transaction without the job's settlement leaves it to the worker (acked on return)", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (_job, ctx) => {
        await ctx.transaction((tx) => tx.kvPut("seen", "yes"));
      },
      { signal: shutdown.signal },
    );
    await until(async () => (await queue.stats("q")).done === 1);
    shutdown.abort();
    await worker;
    assert.equal(text((await queue.kvGet("seen"))!), "yes");
    await queue.close();
  });

  it("a failed transaction changes nothing and the handler's error nacks the job", async () => {
    const { queue } = await openTestQueue({
      ...NO_BACKOFF,
      defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2 },
    });
    await queue.kvPut("stock", "0");
    await queue.enqueue("q", "buy");
    const shutdown = new AbortController();
    let runs = 0;
    const worker = runWorker(
      queue,
      "q",
      async (job, ctx) => {
        runs++;
        await ctx.transaction((tx) => {
          tx.kvCheck("stock", "1");
          tx.kvPut("stock", "0");
          tx.enqueue("ship", "item");
          tx.ack(job);
        });
      },
      { signal: shutdown.signal, logger: recordingLogger() },
    );
    await until(async () => (await queue.stats("q")).dead === 1);
    shutdown.abort();
    await worker;
    assert.equal(runs, 2);
    assert.equal((await queue.stats("ship")).pending, 0);
    const [dead] = (await queue.listJobs("q", "dead")).jobs;
    assert.match(
      dead!.lastError!,
      /key "stock" holds 1 bytes, expected 1 bytes \(different bytes\)/,
    );
    await queue.close();
  });

  it("a handler that retries a committed transaction does not enqueue twice (taken jobId)", async () => {
    const { queue } = await openTestQueue({
      defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 3 },
    });
    await queue.enqueue("q", "order-9");
    const shutdown = new AbortController();
    let runs = 0;
    const worker = runWorker(
      queue,
      "q",
      async (job, ctx) => {
        runs++;
        const follow = await ctx.transaction((tx) =>
          tx.enqueue("ship", text(job.payload), { jobId: `ship-${text(job.payload)}` }),
        );
        // The first run fails after its follow-up committed; the retry must not add another.
        if (runs === 1) throw new Error(`crashed after ${follow.enqueued[0]!.id}`);
      },
      { signal: shutdown.signal, logger: recordingLogger() },
    );
    await until(async () => (await queue.stats("q")).done === 1);
    shutdown.abort();
    await worker;
    assert.equal(runs, 2);
    assert.equal((await queue.stats("ship")).pending, 1);
    await queue.close();
  });
});
