/**
 * A process can load both builds of the package (ESM and CommonJS): a handler
 * may throw the other build's `PermanentFailure`, and a test may hand the
 * other build's `ManualClock` to a queue. Both are recognised by a mark, not
 * by `instanceof`. The "other build" here is a second instance of the same
 * module (loaded under another URL), which is what the other build is: the
 * same source evaluated again.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type * as clockModule from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import type * as failureModule from "../../src/worker/permanent-failure.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { memoryAndFileStores, turns } from "../queue/helpers.js";

const HOUR = 3_600_000;

/** `promise`, or a rejection if it has not settled within 2 s of real time. */
function soon<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("still waiting after 2 s")), 2_000);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `module` evaluated once more, as the package's other build would be. */
async function otherBuildOf<T>(module: string): Promise<T> {
  return (await import(new URL(`${module}?other-build`, import.meta.url).href)) as T;
}

describe("the package's other build", { timeout: 20_000 }, () => {
  for (const [storeName, makeStore] of memoryAndFileStores("taquba-other-build-")) {
    it(`${storeName}: a PermanentFailure of the other build dead-letters at once`, async () => {
      const other = await otherBuildOf<typeof failureModule>(
        "../../src/worker/permanent-failure.js",
      );
      const queue = await Queue.open(await makeStore(), "q", {
        logger: silentLogger,
        flushIntervalMs: 0,
        defaultQueueConfig: { maxAttempts: 3, retryBackoffBaseMs: 0 },
      });
      const shutdown = new AbortController();
      try {
        const id = await queue.enqueue("q", "poison");
        const worker = runWorker(
          queue,
          "q",
          () => {
            throw new other.PermanentFailure("not this one");
          },
          { signal: shutdown.signal, pollIntervalMs: 10 },
        );
        const completion = await queue.waitForCompletion(id, { timeoutMs: 10_000 });
        shutdown.abort();
        await worker;
        assert.deepEqual(completion, { status: "dead", error: "not this one" });
        assert.deepEqual(
          (await queue.attemptHistory(id)).map((a) => a.outcome),
          ["dead_lettered"],
        );
      } finally {
        shutdown.abort();
        await queue.close();
      }
    });

    it(`${storeName}: a ManualClock of the other build moves the queue's timers`, async () => {
      const other = await otherBuildOf<typeof clockModule>("../../src/clock.js");
      const clock = new other.ManualClock(Date.parse("2027-01-01T00:00:00Z"));
      const queue = await Queue.open(await makeStore(), "q", {
        logger: silentLogger,
        flushIntervalMs: 0,
        clock,
      });
      try {
        const id = await queue.enqueue("q", "later", { delayMs: HOUR });
        const waiting = queue.claim("q", { waitMs: 2 * HOUR });
        await turns();
        clock.advance(HOUR);
        const claim = await soon(waiting);
        assert.equal(claim?.id, id, "the delayed job came due and woke the waiting claim");
        const none = queue.claim("empty", { waitMs: HOUR });
        await turns();
        clock.advance(HOUR);
        assert.equal(await soon(none), null, "the wait ended at its time-out");
      } finally {
        await queue.close();
      }
    });
  }
});
