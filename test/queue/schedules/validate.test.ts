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

  it("refuse a cron expression of any field count but 5 or 6 (croner's year field too), naming both counts, storing nothing", async () => {
    const clock = clockAt("2026-03-01T00:00:00Z");
    const queue = await open(new MemoryStore(), clock);
    try {
      await queue.flush();
      const before = queue.logStats().recordsWritten;
      for (const [cron, fields] of [
        ["0 0 12 * * * 2030", 7],
        ["0 12 * * * 2030 1", 7],
        ["* * * *", 4],
        ["", 0],
      ] as const) {
        await assert.rejects(
          queue.schedule("c", { queue: "x", payload: "p", cron }),
          (error: unknown) =>
            error instanceof InvalidArgumentError &&
            error.message ===
              `Expected \`spec.cron\` to be a cron expression of 5 fields (6 with seconds first), got ${JSON.stringify(cron)} (${fields} fields)`,
          cron,
        );
      }
      assert.deepEqual(await queue.listSchedules(), []);
      assert.equal(queue.logStats().recordsWritten, before);
      // 5 and 6 fields, and a nickname, are taken.
      await queue.schedule("five", { queue: "x", payload: "p", cron: "0 12 * * *" });
      await queue.schedule("six", { queue: "x", payload: "p", cron: "30 0 12 * * *" });
      await queue.schedule("nick", { queue: "x", payload: "p", cron: "@daily" });
      assert.deepEqual(
        (await queue.listSchedules()).map((s) => s.name),
        ["five", "nick", "six"],
      );
    } finally {
      await queue.close();
    }
  });
});
