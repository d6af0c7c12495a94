import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../../src/errors.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { clockAt, open, settle } from "./helpers.js";

describe("schedule specs that could not be kept as given", () => {
  it("refuse a payload above payloadOffloadBytes (it would be held inline in every fire's job), storing nothing", async () => {
    const store = new MemoryStore();
    const clock = clockAt("2026-03-01T00:00:00Z");
    const queue = await open(store, clock, { payloadOffloadBytes: 1_000 });
    try {
      await queue.flush();
      const before = queue.logStats().recordsWritten;
      await assert.rejects(
        queue.schedule("big", { queue: "x", payload: "x".repeat(1_001), everyMs: 1_000 }),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          /^Expected `spec\.payload` to be at most 1000 bytes \(payloadOffloadBytes.*got 1001 bytes$/.test(
            error.message,
          ),
      );
      assert.deepEqual(await queue.listSchedules(), []);
      assert.equal(queue.logStats().recordsWritten, before);
      // At the threshold it is kept, and each fire's job carries it inline.
      await queue.schedule("edge", { queue: "x", payload: "y".repeat(1_000), everyMs: 1_000 });
      clock.advance(1_000);
      await settle(queue);
      const { jobs } = await queue.listJobs("x", "pending");
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]!.payload.byteLength, 1_000);
    } finally {
      await queue.close();
    }
  });

  it("take any payload up to maxPayloadBytes when offloading is off", async () => {
    const clock = clockAt("2026-03-01T00:00:00Z");
    const queue = await open(new MemoryStore(), clock, { payloadOffloadBytes: null });
    try {
      await queue.schedule("big", { queue: "x", payload: "x".repeat(300_000), everyMs: 1_000 });
      assert.equal((await queue.listSchedules()).length, 1);
    } finally {
      await queue.close();
    }
  });

  it("refuse dedupReplace (a fire whose dedup key is held enqueues nothing), storing nothing", async () => {
    const clock = clockAt("2026-03-01T00:00:00Z");
    const queue = await open(new MemoryStore(), clock);
    try {
      await assert.rejects(
        queue.schedule("s", {
          queue: "x",
          payload: "p",
          everyMs: 1_000,
          options: { dedupKey: "k", dedupReplace: true },
        }),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          /^Expected `spec\.options\.dedupReplace` to be absent or false .*got true$/.test(
            error.message,
          ),
      );
      assert.deepEqual(await queue.listSchedules(), []);
      await queue.schedule("s", {
        queue: "x",
        payload: "p",
        everyMs: 1_000,
        options: { dedupKey: "k", dedupReplace: false },
      });
      assert.equal((await queue.listSchedules()).length, 1);
    } finally {
      await queue.close();
    }
  });
});
