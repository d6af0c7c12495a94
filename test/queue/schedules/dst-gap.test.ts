import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cron } from "croner";
import { InvalidArgumentError } from "../../../src/errors.js";
import { parseCron } from "../../../src/queue/schedules/timing.js";
import {
  firesInZone,
  yearsOfEveryKind,
  ZONE_PROBE_SPAN_YEARS,
} from "../../../src/queue/schedules/zone-gaps.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { cronSearchesDuring } from "./cron-spy.js";
import { assertNextRuns, clockAt, open } from "./helpers.js";

/**
 * Crons whose every matching time falls in a daylight-saving gap of their zone.
 * croner skips a time in a gap unless seconds, minutes and hours each hold one
 * value and the gap ends on the same local day (then it runs at the end of the
 * gap), so these never fire.
 */
const NEVER = [
  // 31 March is a Sunday only in the years it is the last one, when 02:00–03:00 is skipped.
  ["15,45 2 31 3 +0", "Europe/Berlin"],
  ["0,30 2 * 3 +0#L", "Europe/Berlin"],
  // The second Sunday of March, 02:00–03:00.
  ["0,30 2 8-14 3 +0", "America/New_York"],
  // Lord Howe moves its clocks by half an hour: 02:00–02:30 on the first Sunday of October.
  ["0,15 2 * 10 +0#1", "Australia/Lord_Howe"],
  // Beirut's gap is at midnight, on the last Sunday of March.
  ["0,30 0 * 3 +0#L", "Asia/Beirut"],
  // Greenland skips Saturday 23:00–24:00 before the last Sunday of March: a fixed time in
  // that gap is not moved to its end, which is on the next day.
  ["30 23 24-30 3 +6", "America/Nuuk"],
  ["0 23 24-30 3 +6", "America/Scoresbysund"],
] as const;

describe("schedules in a daylight-saving gap", { timeout: 60_000 }, () => {
  it("refuse a cron whose every time falls in a gap of its zone, naming the expression and zone, storing nothing", async () => {
    const queue = await open(new MemoryStore(), clockAt("2027-01-01T00:00:00Z"));
    try {
      await queue.flush();
      const before = queue.logStats().recordsWritten;
      for (const [cron, timezone] of NEVER) {
        await assert.rejects(
          queue.schedule("gap", { cron, timezone, queue: "jobs", payload: "" }),
          (error: unknown) =>
            error instanceof InvalidArgumentError &&
            error.message.startsWith("Expected `spec.cron` to be ") &&
            error.message.includes(JSON.stringify(cron)) &&
            error.message.includes(JSON.stringify(timezone)) &&
            error.message.includes("daylight-saving gap"),
          `${cron} in ${timezone}`,
        );
        // croner agrees: no fire in the 40 years ahead.
        const years = `${2027}-${2027 + ZONE_PROBE_SPAN_YEARS}`;
        const fields = cron.split(" ");
        assert.equal(
          new Cron(["0", ...fields, years].join(" "), { timezone }).nextRun(
            new Date(Date.UTC(2027, 0, 1)),
          ),
          null,
          `${cron} in ${timezone}`,
        );
      }
      assert.deepEqual(await queue.listSchedules(), []);
      await queue.flush();
      assert.equal(queue.logStats().recordsWritten, before);
    } finally {
      await queue.close();
    }
  });

  it("accept what fires: a fixed time in a gap (run at its end), a time beside a gap, the same in UTC, a leap day", async () => {
    const queue = await open(new MemoryStore(), clockAt("2027-01-01T00:00:00Z"));
    try {
      const cases = [
        // One value each in seconds, minutes and hours: croner runs it at 03:00 CEST.
        ["fixed", "30 2 31 3 +0", "Europe/Berlin", "2030-03-31T01:00:00.000Z"],
        ["beside", "15,45 2,3 31 3 +0", "Europe/Berlin", "2030-03-31T01:15:00.000Z"],
        ["utc", "15,45 2 31 3 +0", "UTC", "2030-03-31T02:15:00.000Z"],
        ["paris-other-sunday", "0,30 2 * 3 +0#1", "Europe/Paris", "2027-03-07T01:00:00.000Z"],
        ["leap-day", "0,30 2 29 2 *", "Europe/Berlin", "2028-02-29T01:00:00.000Z"],
        ["leap-monday", "0,30 2 29 2 +1", "America/New_York", "2044-02-29T07:00:00.000Z"],
        // Half past two on the first Sunday of October exists on Lord Howe.
        ["lord-howe", "0,30 2 * 10 +0#1", "Australia/Lord_Howe", "2027-10-02T15:30:00.000Z"],
        // The hour before Greenland's gap exists.
        ["nuuk-beside", "30 22 24-30 3 +6", "America/Nuuk", "2027-03-28T00:30:00.000Z"],
      ] as const;
      await assertNextRuns(queue, cases);
    } finally {
      await queue.close();
    }
  });

  it("judge from the queue's clock: a gap the zone did not have yet is no reason to refuse", async () => {
    // West Berlin kept no summer time from 1950 to 1979: 31 March 1974, a Sunday, had its 02:15.
    const queue = await open(new MemoryStore(), clockAt("1970-06-01T00:00:00Z"));
    try {
      await queue.schedule("old", {
        cron: "15,45 2 31 3 +0",
        timezone: "Europe/Berlin",
        queue: "jobs",
        payload: "",
      });
      const [info] = await queue.listSchedules();
      assert.equal(new Date(info!.nextRunAt!).toISOString(), "1974-03-31T01:15:00.000Z");
    } finally {
      await queue.close();
    }
  });

  it("decide with bounded work: one year of each kind, a few searches per gap, never a walk through skipped seconds", async () => {
    // Every second of 02:00–03:00 on the last Sunday of March: croner's open search
    // walks each skipped second (one Intl conversion each) up to the year 3000, tens of
    // seconds of a blocked event loop.
    const cron = "* * 2 * 3 +0#L";
    const now = Date.UTC(2027, 0, 1);
    const years = yearsOfEveryKind(2027);
    assert.equal(years.length, 14);
    assert.ok(years.every((y) => y > 2027 && y <= 2027 + ZONE_PROBE_SPAN_YEARS));
    const expression = parseCron(cron, "Europe/Berlin");
    const { result, searches } = await cronSearchesDuring(() =>
      firesInZone(expression, "Europe/Berlin", now),
    );
    assert.equal(result, false);
    // One search per matching day (one a year of each kind, and the last, empty),
    // and two for its times of day.
    const days = searches.filter((p) => p === `0 0 0 * 3 +0#L ${years.join(",")}`).length;
    const times = searches.filter((p) => p === "* * 2 * * *").length;
    assert.equal(days, 15, searches.join("\n"));
    assert.equal(times, 28, searches.join("\n"));
    assert.equal(searches.length, days + times);
  });

  it("accept at once what fires on a day without a gap, and every cron in UTC", () => {
    const now = Date.UTC(2027, 0, 1);
    for (const [cron, timezone] of [
      ["*/5 * * * *", "Europe/Berlin"],
      ["0,30 2 * * *", "America/New_York"],
      ["15,45 2 31 3 +0", "UTC"],
    ] as const)
      assert.equal(firesInZone(parseCron(cron, timezone), timezone, now), true, cron);
  });

  it("judge a clock in the first centuries too (years 1-99 are not read as 19xx)", () => {
    for (let year = 1; year <= 120; year++) {
      const kinds = yearsOfEveryKind(year);
      assert.equal(kinds.length, 14, `year ${year}`);
      assert.ok(
        kinds.every((y) => y > year && y <= year + ZONE_PROBE_SPAN_YEARS),
        `year ${year}`,
      );
    }
    const midYear50 = new Date(0).setUTCFullYear(50, 5, 1);
    for (const [cron, timezone] of [
      ["*/5 * * * *", "Europe/Berlin"],
      ["0,30 2 31 3 +0", "Europe/Berlin"],
      ["15 3 * * *", "America/New_York"],
    ] as const)
      assert.equal(firesInZone(parseCron(cron, timezone), timezone, midYear50), true, cron);
  });

  it("check each stored cron once when a queue opens, catching up included", async () => {
    const store = new MemoryStore();
    const first = await open(store, clockAt("2027-01-01T00:00:00Z"));
    const names = ["a", "b", "c"];
    for (const [i, name] of names.entries())
      await first.schedule(name, {
        cron: `${i} */2 * * *`,
        timezone: "Europe/Berlin",
        queue: "jobs",
        payload: "",
      });
    await first.close();
    // A day later: every schedule has fires to catch up on, then is planned.
    const { result: listed, searches } = await cronSearchesDuring(async () => {
      const queue = await open(store, clockAt("2027-01-02T00:00:00Z"));
      try {
        return await queue.listSchedules();
      } finally {
        await queue.close();
      }
    });
    assert.deepEqual(
      listed.map((s) => [s.name, s.error]),
      names.map((name) => [name, undefined]),
    );
    // The gap check's walk over the days of one year of each kind, once per schedule.
    const checks = searches.filter((p) => p === `0 0 0 * * * ${yearsOfEveryKind(2027).join(",")}`);
    assert.equal(checks.length, names.length, searches.join("\n"));
  });
});
