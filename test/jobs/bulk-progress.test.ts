import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BULK_STEP_MIN } from "../../src/queue/operations.js";
import type { Queue } from "../../src/queue/queue.js";
import { rejection, setSliceMs } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { openOn, STORES } from "./stores.js";

/** `count` dead jobs in `name`. */
async function makeDead(queue: Queue, name: string, count: number): Promise<void> {
  await queue.enqueueBatch(
    name,
    Array.from({ length: count }, (_, i) => `job ${i}`),
  );
  for (let left = count; left > 0; ) {
    const claims = await queue.claimBatch(name, 500);
    await Promise.all(claims.map((c) => queue.deadLetter(c, "broken")));
    left -= claims.length;
  }
}

describe("onProgress of removeJobs and requeueDeadJobs", { timeout: 60_000 }, () => {
  const kind = STORES[0]!;

  it("is told the running count after each write of up to 256 jobs", async () => {
    const { queue } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
    await makeDead(queue, "q", 1_300);
    // A slice long enough for every write: each one holds its most, 256 jobs.
    setSliceMs(queue, 60_000);
    const requeued: number[] = [];
    assert.equal(
      await queue.requeueDeadJobs("q", { limit: 1_100, onProgress: (n) => requeued.push(n) }),
      1_100,
    );
    assert.deepEqual(requeued, [256, 512, 768, 1_024, 1_100]);
    const removed: number[] = [];
    assert.equal(await queue.removeJobs("q", "dead", { onProgress: (n) => removed.push(n) }), 200);
    assert.deepEqual(removed, [200]);
    const none: number[] = [];
    assert.equal(await queue.removeJobs("q", "dead", { onProgress: (n) => none.push(n) }), 0);
    assert.deepEqual(none, [], "nothing written, nothing told");
    await queue.close();
  });

  it("with a short slice, many small writes: the count after each, the same outcome", async () => {
    const { queue } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
    await makeDead(queue, "q", 300);
    setSliceMs(queue, 0);
    const requeued: number[] = [];
    assert.equal(
      await queue.requeueDeadJobs("q", { limit: 250, onProgress: (n) => requeued.push(n) }),
      250,
    );
    const step = BULK_STEP_MIN;
    assert.deepEqual(
      requeued,
      Array.from({ length: Math.ceil(250 / step) }, (_, i) => Math.min(250, (i + 1) * step)),
    );
    const stats = await queue.stats("q");
    assert.equal(stats.pending, 250);
    assert.equal(stats.dead, 50);
    await queue.close();
  });

  it("a listener that throws is logged once and stops nothing; a bad one is refused", async () => {
    const logger = recordingLogger();
    const { queue } = await openOn(kind, { logger, defaultQueueConfig: { maxAttempts: 1 } });
    await makeDead(queue, "q", 1_200);
    let calls = 0;
    const count = await queue.removeJobs("q", "dead", {
      onProgress: () => {
        calls++;
        throw new Error("listener bug");
      },
    });
    assert.equal(count, 1_200);
    assert.equal(calls, 1);
    const errors = logger.messages("error");
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]!,
      /onProgress listener threw, and is not called again: Error: listener bug/,
    );
    assert.equal((await queue.stats("q")).dead, 0);
    const error = await rejection(queue.requeueDeadJobs("q", { onProgress: 5 as never }));
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, /`options.onProgress` to be a function \(count\) => void, got 5/);
    await queue.close();
  });

  it("a listener throwing a value String() refuses is logged once too, and the operation completes", async () => {
    const logger = recordingLogger();
    const { queue } = await openOn(kind, { logger });
    await queue.enqueueBatch(
      "p",
      Array.from({ length: 1_000 }, (_, i) => `job ${i}`),
    );
    const count = await queue.removeJobs("p", "pending", {
      onProgress: () => {
        throw Object.create(null);
      },
    });
    assert.equal(count, 1_000);
    assert.equal((await queue.stats("p")).pending, 0);
    assert.deepEqual(logger.messages("error"), [
      "an onProgress listener threw, and is not called again: [object Object] (thrown value cannot be turned into a string)",
    ]);
    await queue.close();
  });
});
