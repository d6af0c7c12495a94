import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog, type ReadLogOptions } from "../../../src/log/index.js";
import { QueueReader } from "../../../src/queue/reader.js";
import { planningNoSchedules } from "../../../src/queue/reader-hooks.js";
import { encodeRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { SLICE_CLOCK } from "../../../src/util/slices.js";
import { testOptions } from "../../log/helpers.js";
import { turnsDuring } from "../../turns.js";
import { cronSearchesDuring } from "./cron-spy.js";
import { clockAt, definition, open } from "./helpers.js";

/** A store whose log holds `n` zoned daily crons, set in an order that is not theirs by name. */
async function storeWithZonedCrons(n: number, store = new MemoryStore()): Promise<MemoryStore> {
  const { log } = await openLog(store, "q", testOptions());
  const zones = ["Europe/Paris", "America/New_York", "Australia/Sydney", "UTC"];
  await log.append(
    Array.from({ length: n }, (_, i) => {
      const name = `s${String((i * 7) % n).padStart(3, "0")}`;
      return encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(name, zones[i % 4]!, `${i % 60} ${i % 24} * * *`),
      });
    }),
  );
  await log.close();
  return store;
}

/** Read options whose slices are spent by their next reading of the clock. */
function spentSlices(): ReadLogOptions {
  let readings = 0;
  return { [SLICE_CLOCK]: () => ++readings * 10 } as ReadLogOptions;
}

describe("a reader's open plans its schedules", { timeout: 30_000 }, () => {
  it("in slices with turns of the event loop between them: its first listing asks croner nothing", async () => {
    const store = await storeWithZonedCrons(40);
    const fresh = await cronSearchesDuring(() =>
      QueueReader.open(store, "q", planningNoSchedules()).then((r) => r.listSchedules()),
    );
    assert.ok(fresh.searches.length > 0, "a reader that did not plan searches when it lists");
    const { result: reader, turns } = await turnsDuring(() =>
      QueueReader.open(store, "q", spentSlices()),
    );
    assert.ok(turns >= 40, `the open took ${turns} turns`);
    const listed = await cronSearchesDuring(() => reader.listSchedules());
    assert.deepEqual(listed.searches, []);
    assert.deepEqual(listed.result, fresh.result);
  });

  it("and so does a reopen, planning what it did not take on, in turns too", async () => {
    const store = await storeWithZonedCrons(40);
    const reader = await QueueReader.open(store, "q", spentSlices());
    const { log } = await openLog(store, "q", testOptions());
    await log.append(
      Array.from({ length: 20 }, (_, i) =>
        encodeRecord({
          tag: Tag.ScheduleSet,
          schedule: definition(`t${String(i).padStart(2, "0")}`, "Europe/Paris", `${i} 2 * * *`),
        }),
      ),
    );
    await log.close();
    const { result: again, turns } = await turnsDuring(() => reader.reopen());
    assert.ok(turns >= 20, `the reopen took ${turns} turns`);
    const listed = await cronSearchesDuring(() => again.listSchedules());
    assert.deepEqual(listed.searches, []);
    assert.equal(listed.result.length, 60);
    assert.deepEqual(listed.result, (await QueueReader.open(store, "q")).listSchedules());
  });

  it("opened planning none (a command that lists none), it works none out", async () => {
    const store = await storeWithZonedCrons(40);
    const { searches } = await cronSearchesDuring(async () => {
      await QueueReader.open(store, "q", planningNoSchedules());
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    assert.deepEqual(searches, []);
  });

  it("and lists what the writer lists for the same store, across daylight-saving changes", async () => {
    // Times in each zone's gap or repeated hour, a day or so before its change.
    const cases = [
      { at: "2026-03-07T12:00:00Z", zone: "America/New_York" },
      { at: "2026-03-28T12:00:00Z", zone: "Europe/Paris" },
      { at: "2026-04-04T06:00:00Z", zone: "Australia/Sydney" },
      { at: "2026-10-24T12:00:00Z", zone: "Europe/Paris" },
      { at: "2026-10-03T06:00:00Z", zone: "Australia/Sydney" },
      { at: "2026-10-31T12:00:00Z", zone: "America/New_York" },
    ];
    for (const { at, zone } of cases) {
      const store = new MemoryStore();
      const queue = await open(store, clockAt(at));
      try {
        const crons = ["30 2 * * *", "0 1-3 * * *", "*/20 * * * *", "0 3 * * 0", "15 2 29 3 *"];
        for (const [i, cron] of crons.entries())
          await queue.schedule(`c${i}`, { queue: "x", payload: "p", cron, timezone: zone });
        await queue.schedule("every", { queue: "x", payload: "p", everyMs: 3_600_000 });
        const own = await queue.listSchedules();
        const read = (await QueueReader.open(store, "q")).listSchedules();
        assert.equal(read.length, crons.length + 1);
        assert.deepEqual(read, own, `${zone} at ${at}`);
      } finally {
        await queue.close();
      }
    }
  });
});
