/**
 * Every enqueue record a queue builds has the same fields in the same
 * order, whatever its job sets: so they share one hidden class, and the
 * code that applies them stays optimized when the first flow of a process
 * (records naming `flowParent`) follows plain enqueues.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import type { CheckedJob } from "../../src/queue/enqueue.js";
import { enqueueRecordOf } from "../../src/queue/enqueue-record.js";
import type { Observers } from "../../src/queue/observe.js";
import { DEFAULT_QUEUE_CONFIG } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { checkEnqueueOptions } from "../../src/queue/validate-options.js";
import { MemoryStore } from "../../src/store/memory.js";

const ID = "01J00000000000000000000000";
const PARENT = "01J00000000000000000000001";

function job(options: Parameters<typeof checkEnqueueOptions>[0]): CheckedJob {
  return {
    payload: new Uint8Array([1, 2, 3]),
    options: checkEnqueueOptions(options, DEFAULT_QUEUE_CONFIG),
    arg: "options",
    trace: undefined,
  };
}

describe("enqueue records", () => {
  it("have one set of fields, in one order, for plain jobs, jobs with options, offloaded payloads and flow jobs", () => {
    const plain = enqueueRecordOf(ID, "q", job({}), undefined, 1_000);
    const keys = Object.keys(plain);
    const others = [
      enqueueRecordOf(
        ID,
        "q",
        job({ jobId: "a", timeoutMs: 5, groupKey: "g", dedupKey: "d", delayMs: 10 }),
        undefined,
        1_000,
      ),
      enqueueRecordOf(ID, "q", job({}), { key: "k", size: 3 }, 1_000),
      enqueueRecordOf(ID, "q", job({}), undefined, 1_000, PARENT, false),
      enqueueRecordOf(ID, "q", job({}), undefined, 1_000, undefined, true),
      enqueueRecordOf(ID, "q", job({ jobId: "b" }), undefined, 1_000, PARENT, true),
    ];
    for (const record of others) assert.deepEqual(Object.keys(record), keys);
  });

  it("set what the job sets, and leave the rest undefined", () => {
    const child = enqueueRecordOf(ID, "q", job({ jobId: "a" }), undefined, 1_000, PARENT, true);
    assert.equal(child.jobId, "a");
    assert.equal(child.flowParent, PARENT);
    assert.equal(child.waitsForChildren, true);
    const plain = enqueueRecordOf(ID, "q", job({}), undefined, 1_000);
    assert.equal(plain.jobId, undefined);
    assert.equal(plain.flowParent, undefined);
    assert.equal(plain.waitsForChildren, undefined);
    assert.equal(plain.payloadRef, undefined);
    assert.deepEqual([...plain.payload], [1, 2, 3]);
  });

  it("are what every way of enqueueing commits: plain and with options, batches, offloaded payloads, flows, transactions and schedule fires", async () => {
    const clock = new ManualClock(Date.parse("2027-01-01T00:00:00Z"));
    const queue = await Queue.open(new MemoryStore(), "q", {
      clock,
      logger: silentLogger,
      payloadOffloadBytes: 1_024,
    });
    const committed: { keys: string[]; payload: string }[] = [];
    (queue as unknown as Record<symbol, () => Observers>)[Symbol.for("taquba.observers")]!().add({
      eachEnqueue: true,
      eachClaimAndAck: false,
      committed(transitions) {
        for (const { record } of transitions) {
          // A schedule's fire carries the enqueue record of the job it fires.
          const enqueue =
            record.tag === Tag.Enqueue
              ? record
              : record.tag === Tag.ScheduleFire
                ? record.job
                : undefined;
          if (enqueue !== undefined)
            committed.push({
              keys: Object.keys(enqueue),
              payload: Buffer.from(enqueue.payload.subarray(0, 16)).toString(),
            });
        }
      },
    });
    const keys = Object.keys(enqueueRecordOf(ID, "q", job({}), undefined, 1_000));
    // Each payload names the way it was enqueued (an offloaded one has no inline payload).
    await queue.enqueue("work", "plain"); // decided in the caller's turn
    await queue.enqueue("work", "plain options", { priority: 3, groupKey: "g", timeoutMs: 50 });
    await queue.enqueue("work", "with an id", { jobId: "j1", delayMs: 5 });
    await queue.enqueue("work", "x".repeat(2_048)); // offloaded
    await queue.enqueueBatch("work", ["batch", "batch"]);
    await queue.enqueueMany("work", [
      { payload: "many" },
      { payload: "many", options: { dedupKey: "d" } },
    ]);
    await queue.enqueueFlow({
      queue: "work",
      payload: "flow",
      children: [
        { queue: "work", payload: "flow", children: [{ queue: "work", payload: "flow" }] },
      ],
    });
    await queue.transaction((tx) => tx.enqueue("work", "transaction", { priority: 1 }));
    await queue.schedule("every minute", { everyMs: 60_000, queue: "work", payload: "schedule" });
    clock.advance(60_000);
    for (let i = 0; i < 50 && !committed.some((c) => c.payload === "schedule"); i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    await queue.close();

    const ways = [
      "plain",
      "plain options",
      "with an id",
      "",
      "batch",
      "many",
      "flow",
      "transaction",
      "schedule",
    ];
    assert.deepEqual(
      [...new Set(committed.map((c) => c.payload))].sort(),
      [...ways].sort(),
      "every way of enqueueing committed a record",
    );
    for (const { keys: seen, payload } of committed)
      assert.deepEqual(seen, keys, `the record of the "${payload || "offloaded"}" enqueue`);
  });
});
