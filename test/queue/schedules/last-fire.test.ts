/**
 * `lastFireUpTo` (what catching up at open fires or skips to) agrees with the
 * fire times `nextFireAfter` walks one by one (what a process that owns the
 * store fires), also across daylight-saving changes: the latest of those at
 * or before the bound, never a time after it and never a time that is not a
 * fire time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lastFireUpTo, nextFireAfter, parseCron } from "../../../src/queue/schedules/timing.js";
import type { ScheduleDefinition } from "../../../src/queue/schedules/types.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function cronSchedule(cron: string, timezone: string, setAt: number): ScheduleDefinition {
  return {
    name: "s",
    cron,
    everyMs: undefined,
    timezone,
    queue: "jobs",
    payload: new Uint8Array(0),
    options: undefined,
    startAt: undefined,
    endAt: undefined,
    catchUp: "latest",
    setAt,
  };
}

/** Days with a daylight-saving change in each zone (2027), as UTC noon of that day. */
const CHANGES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ["America/New_York", ["2027-03-14", "2027-11-07"]],
  ["Europe/Berlin", ["2027-03-28", "2027-10-31"]],
  ["Australia/Lord_Howe", ["2027-04-04", "2027-10-03"]],
];

const CRONS = ["30 2 * * *", "0 2 * * *", "30 1 * * *", "*/30 * * * *", "15,45 1-3 * * *"];

describe("schedules: the latest fire time up to a bound", () => {
  for (const [zone, days] of CHANGES)
    for (const day of days)
      it(`is the last of the times fired one by one, across the change of ${day} in ${zone}`, () => {
        const from = Date.parse(`${day}T12:00:00Z`) - 24 * HOUR;
        const to = from + 48 * HOUR;
        for (const expression of CRONS) {
          const s = cronSchedule(expression, zone, from);
          const cron = parseCron(expression, zone);
          const fires: number[] = [];
          for (let t = nextFireAfter(s, from, cron); t !== null && t <= to; )
            t = nextFireAfter(s, fires[fires.push(t) - 1]!, cron);
          const wrong: string[] = [];
          for (let upTo = from; upTo <= to; upTo += 13 * MINUTE) {
            const expected = fires.filter((t) => t <= upTo).at(-1) ?? null;
            const got = lastFireUpTo(s, from, upTo, cron);
            if (got !== expected)
              wrong.push(
                `up to ${new Date(upTo).toISOString()}: ${got === null ? null : new Date(got).toISOString()}, expected ${expected === null ? null : new Date(expected).toISOString()}`,
              );
          }
          assert.deepEqual(wrong.slice(0, 5), [], `${expression} in ${zone}`);
        }
      });
});
