import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cron } from "croner";
import { SharedCron } from "../../../src/queue/schedules/shared-cron.js";
import { ZoneOffsetFormats } from "../../../src/queue/schedules/zone-gaps.js";
import { seededRandom } from "../../../src/util/random.js";
import { cronSearchesDuring } from "./cron-spy.js";

const ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Nuuk", "UTC"];
const CRONS = ["30 2 * * *", "45 1 * * *", "*/15 * * * *", "0 * * * *", "0 3 * * 0", "0 0 1 * *"];
/** Days around the 2026 daylight-saving changes of those zones. */
const DAYS = [
  "2026-03-08",
  "2026-03-28",
  "2026-03-29",
  "2026-04-05",
  "2026-10-04",
  "2026-10-24",
  "2026-10-25",
  "2026-11-01",
];

describe("a cron shared by many schedules", () => {
  it("answers every search as croner does, in any order, across daylight-saving changes", () => {
    const next = seededRandom(12);
    for (const zone of ZONES)
      for (const pattern of CRONS) {
        const shared = new SharedCron(
          pattern,
          zone === "UTC" ? undefined : zone,
          new ZoneOffsetFormats(),
        );
        const plain = new Cron(pattern, zone === "UTC" ? { utcOffset: 0 } : { timezone: zone });
        const check = (from: number): number | null => {
          const got = shared.nextRun(new Date(from))?.getTime() ?? null;
          const want = plain.nextRun(new Date(from))?.getTime() ?? null;
          assert.equal(got, want, `${pattern} in ${zone} after ${new Date(from).toISOString()}`);
          return want;
        };
        for (const day of DAYS) {
          const start = Date.parse(`${day}T00:00:00Z`) - 14 * 3_600_000;
          // Searches from times spread over two days around the change, in random order,
          // many of them between the same two runs (what the shared cron remembers).
          const times = Array.from(
            { length: 12 },
            () => start + Math.floor(next() * 2 * 86_400_000),
          );
          for (const [i, from] of times.entries()) {
            const found = check(from);
            // From the run found, and just before and after it.
            if (found !== null && i % 2 === 0)
              for (const t of [found - 1_000, found - 1, found, found + 1, found + 1_000]) check(t);
          }
          // The same times latest first: each search from an earlier time than the span
          // remembered widens it, and the next one lands in what it reached back to.
          for (const from of times.sort((x, y) => y - x)) check(from);
        }
      }
  });

  it("a cron whose runs lie more than two days apart, asked from ever earlier times before one run, searches a few times, not once each", async () => {
    for (const pattern of ["0 0 1 1 *", "0 3 * * 0"]) {
      const shared = new SharedCron(pattern, "America/New_York", new ZoneOffsetFormats());
      const plain = new Cron(pattern, { timezone: "America/New_York" });
      const { result, searches } = await cronSearchesDuring(() => {
        const run = shared.nextRun(new Date("2026-01-01T00:00:00Z"))!.getTime();
        // Schedules last fired in the day before the run, asked latest first.
        return Array.from({ length: 100 }, (_, i) => {
          const from = new Date(run - 3_600_000 - i * 600_000);
          return [shared.nextRun(from)?.getTime(), plain.nextRun(from)?.getTime()] as const;
        });
      });
      for (const [got, want] of result) assert.equal(got, want, pattern);
      const own = searches.length - result.length; // the plain cron's searches
      assert.ok(own <= 4, `${pattern}: ${own} searches`);
    }
  });

  it("does not answer from memory across a change of the zone's offset", async () => {
    // 12:00 in Berlin: 11:00Z on 28 March 2026, 10:00Z on 29 March (clocks go forward at 01:00Z).
    const shared = new SharedCron("0 12 * * *", "Europe/Berlin", new ZoneOffsetFormats());
    const { result, searches } = await cronSearchesDuring(() => [
      shared.nextRun(new Date("2026-03-28T12:00:00Z"))?.toISOString(),
      shared.nextRun(new Date("2026-03-28T20:00:00Z"))?.toISOString(),
      shared.nextRun(new Date("2026-03-29T02:00:00Z"))?.toISOString(),
      shared.nextRun(new Date("2026-03-29T05:00:00Z"))?.toISOString(),
    ]);
    assert.deepEqual(result, Array(4).fill("2026-03-29T10:00:00.000Z"));
    // The span from 20:00Z still holds the change; the one from 02:00Z does not,
    // so the search from 05:00Z is answered from memory.
    assert.equal(searches.length, 3, searches.join(", "));
  });
});
