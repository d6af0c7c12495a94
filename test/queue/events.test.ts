import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { FencedError, InvalidArgumentError } from "../../src/errors.js";
import {
  QUEUE_EVENT_NAMES,
  type QueueEventBase,
  type QueueEventName,
} from "../../src/queue/events.js";
import type { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { memoryAndFileStores, mustClaim, NO_BACKOFF, openTestQueue, rejection } from "./helpers.js";

type Seen = [QueueEventName, QueueEventBase & Record<string, unknown>];

/** Records every event of `queue`, in delivery order. */
function recordAll(queue: Queue): Seen[] {
  const seen: Seen[] = [];
  for (const name of QUEUE_EVENT_NAMES)
    queue.on(name, (event) => {
      seen.push([name, event as Seen[1]]);
    });
  return seen;
}

function steps(seen: Seen[]): string[] {
  return seen.map(([name, event]) => `${name} ${event.id}`);
}

describe("queue events", { timeout: 60_000 }, () => {
  it("follow each job's life in commit order, with its id, queue and time", async () => {
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2 },
    });
    const seen = recordAll(queue);
    const a = await queue.enqueue("mail", "a");
    const b = await queue.enqueue("mail", "b", { runAt: clock.now() + 60_000 });
    const first = await mustClaim(queue, "mail");
    await queue.nack(first, "boom");
    const second = await mustClaim(queue, "mail");
    clock.advance(250);
    await queue.ack(second);
    assert.equal(await queue.cancel(b), "removed");
    const c = await queue.enqueue("other", "c");
    await queue.deadLetter(await mustClaim(queue, "other"), "poison");

    assert.deepEqual(steps(seen), [
      `enqueued ${a}`,
      `enqueued ${b}`,
      `claimed ${a}`,
      `retried ${a}`,
      `claimed ${a}`,
      `completed ${a}`,
      `cancelled ${b}`,
      `enqueued ${c}`,
      `claimed ${c}`,
      `dead ${c}`,
    ]);
    const start = 1_700_000_000_000;
    assert.deepEqual(
      seen.map(([, event]) => event),
      [
        { id: a, queue: "mail", at: start },
        { id: b, queue: "mail", at: start, runAt: start + 60_000 },
        { id: a, queue: "mail", at: start, attempt: 1 },
        { id: a, queue: "mail", at: start, attempt: 1, error: "boom" },
        { id: a, queue: "mail", at: start, attempt: 2 },
        { id: a, queue: "mail", at: start + 250, attempt: 2, durationMs: 250 },
        { id: b, queue: "mail", at: start + 250 },
        { id: c, queue: "other", at: start + 250 },
        { id: c, queue: "other", at: start + 250, attempt: 1 },
        { id: c, queue: "other", at: start + 250, attempt: 1, error: "poison" },
      ],
    );
    await queue.close();
  });

  it("a lease expiry emits expired, then the job's next step", async () => {
    const { queue, clock } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 2 } });
    const seen = recordAll(queue);
    const id = await queue.enqueue("q", "x");
    await mustClaim(queue, "q", 1_000);
    clock.advance(1_001);
    await queue.reapNow();
    await mustClaim(queue, "q", 1_000);
    clock.advance(1_001);
    await queue.reapNow();
    assert.deepEqual(steps(seen), [
      `enqueued ${id}`,
      `claimed ${id}`,
      `expired ${id}`,
      `retried ${id}`,
      `claimed ${id}`,
      `expired ${id}`,
      `dead ${id}`,
    ]);
    assert.equal(seen[3]![1].error, "lease expired");
    assert.equal(seen[6]![1].error, "lease expired");
    await queue.close();
  });

  it("a job enqueued with a jobId is named by it in every step", async () => {
    const { queue, clock } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const seen = recordAll(queue);
    const plain = await queue.enqueue("q", "plain");
    assert.equal(await queue.enqueue("q", "named", { jobId: "order-7" }), "order-7");
    const first = await mustClaim(queue, "q");
    assert.equal(first.id, plain);
    await queue.ack(first);
    const named = await mustClaim(queue, "q", 1_000);
    assert.equal(named.id, "order-7");
    clock.advance(1_001);
    await queue.reapNow();
    await queue.enqueue("q", "ok", { jobId: "order-8" });
    await queue.release(await mustClaim(queue, "q"));
    assert.equal(await queue.cancel("order-8"), "removed");
    assert.deepEqual(steps(seen), [
      `enqueued ${plain}`,
      "enqueued order-7",
      `claimed ${plain}`,
      `completed ${plain}`,
      "claimed order-7",
      "expired order-7",
      "dead order-7",
      "enqueued order-8",
      "claimed order-8",
      "released order-8",
      "cancelled order-8",
    ]);
    await queue.close();
  });

  it("a released claim emits released with the attempt it gives back; the next claim counts it again", async () => {
    const { queue } = await openTestQueue();
    const seen = recordAll(queue);
    const id = await queue.enqueue("q", "x");
    await queue.release(await mustClaim(queue, "q"));
    const again = await mustClaim(queue, "q");
    assert.equal(again.attempts, 1);
    assert.deepEqual(steps(seen), [
      `enqueued ${id}`,
      `claimed ${id}`,
      `released ${id}`,
      `claimed ${id}`,
    ]);
    assert.equal(seen[2]![1].attempt, 1);
    assert.equal(seen[3]![1].attempt, 1);
    await queue.close();
  });

  it("batches, retries with backoff and cancelled claims report what the record says", async () => {
    const { queue, clock } = await openTestQueue();
    const seen = recordAll(queue);
    const [x, y] = await queue.enqueueBatch("b", ["x", "y"]);
    const claim = await mustClaim(queue, "b");
    await queue.nack(claim, "later");
    assert.deepEqual(seen[3], [
      "retried",
      {
        id: x,
        queue: "b",
        at: clock.now(),
        attempt: 1,
        error: "later",
        runAt: clock.now() + 1_000,
      },
    ]);
    const other = await mustClaim(queue, "b");
    assert.equal(other.id, y);
    assert.equal(await queue.cancel(y!), "requested");
    await queue.nack(other, "stopped");
    assert.deepEqual(steps(seen).slice(4), [`claimed ${y}`, `cancelled ${y}`]);
    await queue.close();
  });

  it("are emitted only once the transition is durable", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(NO_BACKOFF, store);
    const seen = recordAll(queue);
    const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
    const enqueued = queue.enqueue("q", "x");
    await hold.whenHeld();
    // The job is in memory (claimable) but not durable: no event yet.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, []);
    hold.release();
    const id = await enqueued;
    assert.deepEqual(steps(seen), [`enqueued ${id}`]);
    await queue.close();
  });

  it("calls that become durable in one log batch are told in call order, before their calls resolve", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(NO_BACKOFF, store);
    const seen = recordAll(queue);
    const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
    const resolvedWhenSeen: number[] = [];
    const calls = Array.from({ length: 40 }, (_, i) =>
      queue.enqueue(i % 2 === 0 ? "even" : "odd", `${i}`).then((id) => {
        resolvedWhenSeen.push(seen.length);
        return id;
      }),
    );
    await hold.whenHeld();
    assert.equal(seen.length, 0);
    hold.release();
    const ids = await Promise.all(calls);
    assert.deepEqual(
      steps(seen),
      ids.map((id) => `enqueued ${id}`),
    );
    assert.deepEqual(
      seen.map(([, event]) => event.queue),
      ids.map((_, i) => (i % 2 === 0 ? "even" : "odd")),
    );
    // Each call resolved only after its own event was delivered.
    for (const [i, count] of resolvedWhenSeen.entries()) assert.ok(count > i, `${i}: ${count}`);
    await queue.close();
  });

  it("are never emitted for a transition that did not become durable", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue({}, store);
    const seen = recordAll(queue);
    const { queue: usurper } = await openTestQueue({}, store);
    const error = await rejection(queue.enqueue("q", "lost"));
    assert.ok(error instanceof FencedError, String(error));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, []);
    await usurper.close();
  });

  for (const metrics of [false, true])
    for (const [storeName, makeStore] of memoryAndFileStores("taquba-events-"))
      it(`a listener hears the steps committed after its on, not a claim and an ack committed before it and durable after (${metrics ? "metrics on" : "no metrics"}, ${storeName})`, async () => {
        for (const early of [true, false]) {
          const store = new FaultStore(await makeStore());
          const telemetry = metrics
            ? { meterProvider: new MeterProvider({ readers: [] }), traces: false }
            : (false as const);
          const { queue } = await openTestQueue({ telemetry }, store);
          const [one, two, three] = await queue.enqueueBatch("a", ["1", "2", "3"]);
          const c1 = await mustClaim(queue, "a");
          let seen: Seen[] = early ? recordAll(queue) : [];
          // A claim and an ack committed while the log's write is held: not durable yet.
          const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
          const claimed = queue.claim("a");
          const acked = queue.ack(c1);
          await hold.whenHeld();
          const { pending, claimed: claimedNow, done } = await queue.stats("a");
          assert.deepEqual(
            [pending, claimedNow, done],
            [1, 1, 1],
            "the claim and the ack are committed",
          );
          if (!early) seen = recordAll(queue);
          hold.release();
          const c2 = await claimed;
          await acked;
          assert.equal(c2?.id, two);
          // Committed after either listener's on.
          await queue.ack(await mustClaim(queue, "a"));
          await queue.flush();
          await queue.close();
          assert.deepEqual(steps(seen), [
            ...(early ? [`claimed ${two}`, `completed ${one}`] : []),
            `claimed ${three}`,
            `completed ${three}`,
          ]);
        }
      });

  it("a listener that throws or rejects is logged and breaks neither the queue nor other listeners", async () => {
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ ...NO_BACKOFF, logger });
    const after: string[] = [];
    queue.on("enqueued", () => {
      throw new Error("listener bug");
    });
    queue.on("claimed", async () => {
      throw new Error("async listener bug");
    });
    queue.on("enqueued", (event) => {
      after.push(event.id);
    });
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    await queue.ack(claim);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(after, [id]);
    assert.equal((await queue.stats("q")).done, 1);
    assert.deepEqual(logger.messages("error"), [
      `a "enqueued" listener failed on job ${id}: listener bug`,
      `a "claimed" listener failed on job ${id}: async listener bug`,
    ]);
    await queue.close();
  });

  it("a failing listener breaks nothing even when the logger it is reported to throws", async () => {
    const logger = recordingLogger();
    const throwing = {
      ...logger,
      error: (): never => {
        throw new Error("the log sink is gone");
      },
    };
    const { queue } = await openTestQueue({ ...NO_BACKOFF, logger: throwing });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      const after: string[] = [];
      queue.on("enqueued", () => {
        throw new Error("listener bug");
      });
      queue.on("enqueued", async () => {
        throw new Error("async listener bug");
      });
      queue.on("enqueued", (event) => {
        after.push(event.id);
      });
      const ids = (await queue.enqueueMany("q", [{ payload: "a" }, { payload: "b" }])).map(
        (r) => r.id,
      );
      // Rejections are reported a turn after they happen.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(after, ids);
      assert.deepEqual(unhandled, []);
      assert.equal((await queue.stats("q")).pending, 2);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await queue.close();
    }
  });

  it("a listener that throws a value String() refuses stops neither the batch nor other listeners", async () => {
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ logger });
    const after: string[] = [];
    queue.on("enqueued", () => {
      throw Object.create(null);
    });
    queue.on("enqueued", () => {
      throw {
        toString() {
          throw new Error("no string for you");
        },
      };
    });
    queue.on("enqueued", () => Promise.reject(Object.create(null)));
    queue.on("enqueued", (event) => {
      after.push(event.id);
    });
    const ids = (await queue.enqueueMany("q", [{ payload: "a" }, { payload: "b" }])).map(
      (r) => r.id,
    );
    const last = await queue.enqueue("q", "c");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(after, [...ids, last]);
    assert.equal(logger.messages("error").length, 9);
    assert.equal(
      logger.messages("error")[0],
      `a "enqueued" listener failed on job ${ids[0]}: [object Object] (thrown value cannot be turned into a string)`,
    );
    await queue.close();
  });

  it("off removes one registration; the queue returns itself for chaining", async () => {
    const { queue } = await openTestQueue();
    const calls: string[] = [];
    const listener = (event: QueueEventBase): void => {
      calls.push(event.id);
    };
    assert.equal(queue.on("enqueued", listener).on("enqueued", listener), queue);
    const a = await queue.enqueue("q", "a");
    queue.off("enqueued", listener);
    const b = await queue.enqueue("q", "b");
    queue.off("enqueued", listener);
    queue.off("enqueued", listener);
    await queue.enqueue("q", "c");
    assert.deepEqual(calls, [a, a, b]);
    await queue.close();
  });

  it("rejects unknown events and listeners that are not functions", async () => {
    const { queue } = await openTestQueue();
    const bad = (): unknown => queue.on("finished" as QueueEventName, () => {});
    assert.throws(bad, InvalidArgumentError);
    assert.throws(bad, /Expected `event` to be one of "enqueued", "claimed"/);
    assert.throws(
      () => queue.on("enqueued", "nope" as unknown as () => void),
      /Expected `listener` to be a function/,
    );
    await queue.close();
  });
});
