/**
 * A `Queue` or `QueueReader` method called on something else than the queue or reader (a
 * destructured `enqueue`, a method passed as a callback, `Queue.prototype.stats.call({})`)
 * throws a `TypeError` saying what `this` should be and how to call it, not the engine's
 * "Cannot read private member #core from an object whose class did not declare it".
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";

/** Runs `call`, sync or async, and returns what it threw or rejected with. */
async function failureOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  assert.fail("expected the call to fail");
}

function assertNotA(error: unknown, kind: "Queue" | "QueueReader", got: RegExp): void {
  assert.ok(error instanceof TypeError, String(error));
  assert.match(error.message, new RegExp(`^Expected \`this\` to be a taquba ${kind}, got `));
  assert.match(error.message, got);
  assert.match(error.message, /bind/);
  assert.doesNotMatch(error.message, /private member/);
}

describe("methods called on something else than a queue or reader", () => {
  it("a Queue method (from each part of the class chain) says `this` must be a taquba Queue", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { logger: silentLogger });
    try {
      const { enqueue, stats, kvGet, claim, on } = queue;
      assertNotA(
        await failureOf(() => enqueue("q", "x")),
        "Queue",
        /got undefined.*queue\.enqueue/,
      );
      assertNotA(await failureOf(() => stats("q")), "Queue", /got undefined/);
      assertNotA(await failureOf(() => kvGet("k")), "Queue", /got undefined/);
      assertNotA(await failureOf(() => claim("q")), "Queue", /got undefined/);
      assertNotA(await failureOf(() => on("enqueued", () => {})), "Queue", /got undefined/);
      const recovery = Object.getOwnPropertyDescriptor(Queue.prototype, "recovery")?.get;
      assertNotA(await failureOf(() => recovery?.call(undefined)), "Queue", /got undefined/);
      assertNotA(await failureOf(() => recovery?.call({})), "Queue", /got an object/);
      assert.equal(queue.recovery, null);
      assertNotA(
        await failureOf(() => Queue.prototype.stats.call({}, "q")),
        "Queue",
        /got an object/,
      );
      assertNotA(
        await failureOf(() => Queue.prototype.transaction.call(5 as never, () => {})),
        "Queue",
        /got 5/,
      );
      // Called on the queue, they still work.
      await queue.enqueue("q", "x");
      assert.equal((await queue.stats("q")).pending, 1);
    } finally {
      await queue.close();
    }
  });

  it("a QueueReader method says `this` must be a taquba QueueReader", async () => {
    const store = new MemoryStore();
    await (await Queue.open(store, "q", { logger: silentLogger })).close();
    const reader = await QueueReader.open(store, "q");
    const { stats, getJob, loadJob, reopen, storeRequests, writerHeartbeat } = reader;
    for (const call of [
      () => stats("q"),
      () => getJob("x"),
      () => loadJob("x"),
      () => reopen(),
      () => storeRequests(),
      () => writerHeartbeat(),
    ])
      assertNotA(await failureOf(call), "QueueReader", /got undefined.*reader\.stats/);
    assertNotA(
      await failureOf(() => QueueReader.prototype.listQueues.call({})),
      "QueueReader",
      /got an object/,
    );
    assertNotA(
      await failureOf(() => QueueReader.prototype.loadJob.call({}, "x")),
      "QueueReader",
      /got an object/,
    );
    assert.equal(await reader.loadJob("x"), null);
    assert.equal(reader.stats("q").pending, 0);
  });

  it("a Proxy of a queue, an object made from one, or a Queue of another copy: no bind advice", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { logger: silentLogger });
    try {
      class OtherQueue {}
      Object.defineProperty(OtherQueue, "name", { value: "Queue" });
      for (const receiver of [new Proxy(queue, {}), Object.create(queue), new OtherQueue()]) {
        const error = await failureOf(() => Queue.prototype.stats.call(receiver, "q"));
        assert.ok(error instanceof TypeError, String(error));
        assert.equal(
          error.message,
          "Expected `this` to be a taquba Queue, got a Queue this copy of taquba did not open (a Proxy of a queue, an object made from one, or a Queue of another copy or build of taquba): call it on the queue itself, and load one copy of taquba (npm ls taquba)",
        );
      }
    } finally {
      await queue.close();
    }
    const reader = await QueueReader.open(store, "q");
    const error = await failureOf(() => new Proxy(reader, {}).stats("q"));
    assert.ok(error instanceof TypeError, String(error));
    assert.match(
      error.message,
      /got a QueueReader this copy of taquba did not open \(a Proxy of a reader,/,
    );
    assert.match(error.message, /call it on the reader itself, and load one copy/);
    assert.doesNotMatch(error.message, /bind/);
  });
});
