import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { QueueEvents } from "../../src/queue/events.js";
import { Observers } from "../../src/queue/observe.js";
import type { Transition } from "../../src/queue/transition.js";
import { recordingLogger } from "../recording-logger.js";
import { enqueueRecord, openTestQueue, rejection, turns } from "./helpers.js";

/** A batch of `count` enqueue transitions, each job's payload `payloadBytes` long. */
function batch(prefix: string, count: number, payloadBytes: number): Transition[] {
  return Array.from({ length: count }, (_, i) => ({
    record: enqueueRecord(`${prefix}-${i}`, { payload: new Uint8Array(payloadBytes) }),
    job: undefined,
    cause: undefined,
    at: 1,
  }));
}

describe("the event backlog is bounded in bytes", () => {
  it("listeners that fall behind large jobs lose the oldest untold events (one warning), not memory; the newest are told", async () => {
    const logger = recordingLogger();
    const events = new QueueEvents(new Observers(logger), logger, 50_000);
    const told: string[] = [];
    events.on("enqueued", (event: { id: string }) => told.push(event.id));
    // One turn: a first batch spends the turn's budget, then eleven batches of about
    // 110 KB each, every one past the bound on its own.
    events.committed(batch("first", 1_000, 1));
    for (let k = 0; k < 11; k++) events.committed(batch(`large${k}`, 100, 1_000));
    await events.drained();
    assert.equal(told.length, 1_100, "the first batch and the newest large one");
    assert.ok(told.slice(1_000).every((id) => id.startsWith("large10-")));
    assert.equal(logger.messages("warn").length, 1, logger.messages("warn").join("\n"));
    assert.match(logger.messages("warn")[0]!, /maxEventBacklogBytes/);
    assert.deepEqual(logger.messages("info"), [
      "queue events: caught up; 1000 events were dropped",
    ]);

    // Caught up: the next events are told as usual, with no new warning.
    events.committed(batch("later", 10, 1_000));
    await turns(2);
    assert.equal(told.length, 1_110);
    assert.equal(logger.messages("warn").length, 1);
  });

  it("an event's headers, ids and fixed cost count, not only its payload: small jobs with large headers are bounded too", async () => {
    const logger = recordingLogger();
    const events = new QueueEvents(new Observers(logger), logger, 200_000);
    let told = 0;
    events.on("enqueued", () => told++);
    // 1-byte payloads; each job has 16 headers of 500 characters (about 16 KB as strings)
    // and a long caller id and dedup key: 20 such jobs are past the bound.
    const headers = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`header-${i}`, "v".repeat(500)]),
    );
    const heavy = (prefix: string, count: number): Transition[] =>
      Array.from({ length: count }, (_, i) => ({
        record: enqueueRecord(`${prefix}-${i}`, {
          payload: new Uint8Array(1),
          headers,
          jobId: `${prefix}-${i}-${"j".repeat(500)}`,
          dedupKey: "d".repeat(500),
        }),
        job: undefined,
        cause: undefined,
        at: 1,
      }));
    events.committed(batch("first", 1_000, 1)); // spends the turn's budget
    for (let k = 0; k < 10; k++) events.committed(heavy(`heavy${k}`, 10));
    await events.drained();
    assert.equal(logger.messages("warn").length, 1, "the headers alone are past the bound");
    assert.ok(told < 1_100, `some heavy events were dropped (told ${told})`);
    assert.ok(told >= 1_010, `the newest batch is told (told ${told})`);

    // Records with no payload at all: their fixed cost and ids bound them. Three batches
    // of 100 are about 135 KB (at 128 bytes each, payload only, they were 38 KB).
    const small = new QueueEvents(new Observers(logger), logger, 100_000);
    let smallTold = 0;
    small.on("enqueued", () => smallTold++);
    small.committed(batch("first", 1_000, 1));
    for (let k = 0; k < 3; k++) small.committed(batch(`empty${k}`, 100, 0));
    await small.drained();
    assert.equal(smallTold, 1_000 + 200, "the oldest untold batch was dropped");
    assert.equal(logger.messages("warn").length, 2);
  });

  it("within the bound nothing is dropped", async () => {
    const events = new QueueEvents(new Observers(console), console, 1_000_000_000);
    let told = 0;
    events.on("enqueued", () => told++);
    events.committed(batch("first", 1_000, 1));
    for (let k = 0; k < 11; k++) events.committed(batch(`large${k}`, 100, 1_000));
    await events.drained();
    assert.equal(told, 2_100);
  });

  it("maxEventBacklogBytes must be a positive integer", async () => {
    for (const bad of [0, -1, 1.5, "64"]) {
      const error = await rejection(
        openTestQueue({ maxEventBacklogBytes: bad as number }).then(({ queue }) => queue.close()),
      );
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, /^Expected `options.maxEventBacklogBytes` to be .*, got /);
    }
    const { queue } = await openTestQueue({ maxEventBacklogBytes: 1 });
    await queue.close();
  });
});
