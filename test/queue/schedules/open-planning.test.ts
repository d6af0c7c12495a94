import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../../../src/log/index.js";
import { encodeRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import { COMMON_PROBE_YEARS } from "../../../src/queue/schedules/timing.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { testOptions } from "../../log/helpers.js";
import { cronSearchesDuring } from "./cron-spy.js";
import { clockAt, definition, open } from "./helpers.js";

const ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];

/** A store holding `n` daily crons set at the same time: one expression per zone, four pairs in all. */
async function storeWithSharedCrons(n: number): Promise<MemoryStore> {
  const store = new MemoryStore();
  const { log } = await openLog(store, "q", testOptions());
  await log.append(
    Array.from({ length: n }, (_, i) =>
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(`s${String(i).padStart(3, "0")}`, ZONES[i % 4]!, `${i % 4} 3 * * *`),
      }),
    ),
  );
  await log.close();
  return store;
}

describe("a queue's planning at open", () => {
  it("parses and checks each (cron, zone) pair once, however many schedules share it", async () => {
    const store = await storeWithSharedCrons(40);
    const { result, searches } = await cronSearchesDuring(async () => {
      const queue = await open(store, clockAt("2026-01-01T00:00:10Z"));
      try {
        return await queue.listSchedules();
      } finally {
        await queue.close();
      }
    });
    assert.equal(result.length, 40);
    assert.ok(result.every((s) => s.error === undefined && s.nextRunAt !== null));
    const probes = searches.filter((pattern) => pattern.endsWith(` ${COMMON_PROBE_YEARS}`));
    assert.equal(probes.length, 4, "one probe per (cron, zone) pair");
    // Planned as each schedule's own parse plans it.
    for (const s of result) {
      const zone = s.timezone;
      const minute = Number(s.cron!.split(" ")[0]);
      const local = new Date(s.nextRunAt!).toLocaleString("en-GB", { timeZone: zone });
      assert.match(local, new RegExp(`^\\d+/\\d+/\\d+, 03:0${minute}:00$`), `${s.name} ${local}`);
    }
  });
});
