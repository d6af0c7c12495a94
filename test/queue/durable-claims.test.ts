import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { FAIL_FAST, openTestQueue, rejection, turns, WAL, watch } from "./helpers.js";

describe("claims are handed out only once durable", { timeout: 60_000 }, () => {
  it("claim() resolves after its record lands; meanwhile nobody else gets the job", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({}, faults);
    const id = await queue.enqueue("q", "x");
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const first = queue.claim("q");
    const firstState = watch(first);
    await hold.whenHeld();
    await turns();
    assert.equal(firstState.settled(), false, "the claim must wait for its record");
    assert.equal(await queue.claim("q"), null, "the job must not go to a second claimer");
    // A read answers once the claim is durable.
    const read = queue.getJob(id);
    hold.release();
    assert.equal((await read)?.status, "claimed");
    const claim = await first;
    assert.equal(claim?.id, id);
    assert.equal(claim?.attempts, 1);
    assert.equal(typeof claim?.leaseExpiresAt, "number");
    await queue.ack(claim!);
    await queue.close();
  });

  it("a claim whose record cannot be made durable is never delivered", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    await queue.enqueue("q", "x");
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    assert.equal((await rejection(queue.claim("q"))).code, "STORAGE");
    assert.equal(queue.closed, true);
  });

  it("a waiter served while the write fails gets the failure, not the job", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    const waiting = queue.claim("q", { waitMs: 60_000 });
    await turns();
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const enqueued = queue.enqueue("q", "never durable");
    assert.equal((await rejection(enqueued)).code, "STORAGE");
    const outcome = await waiting.then(
      (claim) => (claim === null ? "null" : `delivered ${claim.id}`),
      (error: { code?: string }) => `rejected ${error.code}`,
    );
    assert.doesNotMatch(outcome, /delivered/);
  });

  it("runWorker never runs a handler for a job whose enqueue is not durable", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    const handled: string[] = [];
    const worker = runWorker(queue, "q", (job) => void handled.push(job.id), {
      pollIntervalMs: 60_000,
      concurrency: 4,
      logger: silentLogger,
    });
    await turns();
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    assert.equal((await rejection(queue.enqueue("q", "never durable"))).code, "STORAGE");
    assert.equal((await rejection(worker)).code, "STORAGE");
    assert.deepEqual(handled, []);
  });

  it("each job that arrives wakes one waiter, handed out once its claim is durable", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue, clock } = await openTestQueue({}, faults);
    const waiters = [0, 1, 2].map(() => queue.claim("q", { waitMs: 1_000 }));
    await turns();
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const enqueued = queue.enqueueBatch("q", ["a", "b"]);
    await hold.whenHeld();
    await turns();
    assert.equal(await queue.claim("q"), null, "both jobs are promised to the oldest waiters");
    hold.release();
    await enqueued;
    const [a, b] = (await Promise.all(waiters.slice(0, 2))) as Claim[];
    assert.deepEqual(
      [a?.payload, b?.payload].map((p) => Buffer.from(p!).toString()),
      ["a", "b"],
    );
    clock.advance(1_000);
    assert.equal(await waiters[2], null);
    await queue.close();
  });

  it("a claim still in flight when the queue closes resolves null", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({}, faults);
    await queue.enqueue("q", "x");
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const claim = queue.claim("q");
    await hold.whenHeld();
    const closed = queue.close();
    hold.release();
    await closed;
    assert.equal(await claim, null);
  });

  it("a claim the close left unhanded costs its job no attempt: pending again after a reopen", async () => {
    const faults = new FaultStore(new MemoryStore());
    const options = { defaultQueueConfig: { maxAttempts: 1 } };
    const { queue } = await openTestQueue(options, faults);
    const [kept, cancelled] = await queue.enqueueBatch("q", ["kept", "cancelled"]);
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const claims = queue.claimBatch("q", 2);
    await hold.whenHeld();
    const cancel = queue.cancel(cancelled!);
    const closed = queue.close();
    hold.release();
    await closed;
    assert.equal(await cancel, "requested");
    assert.deepEqual(await claims, []);
    const { queue: reopened } = await openTestQueue(options, faults);
    const job = await reopened.getJob(kept!);
    assert.deepEqual(
      [job?.status, job?.attempts, await reopened.attemptHistory(kept!)],
      ["pending", 0, []],
      "never handed out: not an interrupted attempt",
    );
    assert.equal(await reopened.getJob(cancelled!), null, "its cancel took effect");
    assert.deepEqual(await reopened.waitForCompletion(cancelled!), { status: "cancelled" });
    const claim = await reopened.claim("q");
    assert.deepEqual([claim?.id, claim?.attempts], [kept, 1]);
    await reopened.close();
  });

  it("a claim whose offloaded payload is still being read at close is given back, not handed out", async () => {
    const faults = new FaultStore(new MemoryStore());
    const options = { defaultQueueConfig: { maxAttempts: 1 }, payloadOffloadBytes: 16 };
    const { queue } = await openTestQueue(options, faults);
    const [big, inline] = await queue.enqueueBatch("q", ["x".repeat(100), "small"]);
    const hold = faults.pause({ op: "get" });
    const claims = queue.claimBatch("q", 2);
    await hold.whenHeld();
    const closed = queue.close();
    hold.release();
    await closed;
    assert.deepEqual(await claims, [], "nothing handed out after the close");
    const { queue: reopened } = await openTestQueue(options, faults);
    for (const id of [big!, inline!]) {
      const job = await reopened.getJob(id);
      assert.deepEqual(
        [job?.status, job?.attempts, await reopened.attemptHistory(id)],
        ["pending", 0, []],
        `${id}: never handed out, not an interrupted attempt`,
      );
    }
    await reopened.close();
  });

  it("concurrent claims share group commits instead of one write each", async () => {
    const counting = new CountingStore(new MemoryStore());
    const { queue } = await openTestQueue({}, counting);
    await queue.enqueueBatch(
      "q",
      Array.from({ length: 200 }, (_, i) => `job ${i}`),
    );
    const before = counting.counts.put;
    const claims = await Promise.all(Array.from({ length: 200 }, () => queue.claim("q")));
    assert.equal(claims.filter((c) => c !== null).length, 200);
    const puts = counting.counts.put - before;
    assert.ok(puts <= 3, `200 claims took ${puts} writes`);
    await queue.close();
  });

  it("attempts of a handed-out claim survive a crash right after it", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue({}, store);
    const id = await queue.enqueue("q", "x");
    const claim = await queue.claim("q");
    assert.equal(claim?.attempts, 1);
    // No flush, no close: what the store holds right now is what a crash leaves.
    const snapshot = new MemoryStore();
    for (const { key } of await listAll(store, "")) {
      const object = await store.get(key);
      await snapshot.put(key, object!.body);
    }
    const reopened = await Queue.open(snapshot, "q", { logger: silentLogger });
    const job = await reopened.getJob(id);
    assert.equal(job?.attempts, 1);
    assert.equal(job?.status, "pending", "requeued as an interrupted claim");
    await reopened.close();
    await queue.close();
  });
});
