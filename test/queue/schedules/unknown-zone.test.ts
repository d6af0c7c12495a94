/**
 * A stored schedule this runtime cannot evaluate (its time zone is unknown to
 * the local tz data, as in a store written by a host with newer data) does
 * not keep the queue from opening: it is reported and never fires, and the
 * other schedules fire as usual.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../../../src/log/index.js";
import { encodeRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import type { ScheduleDefinition } from "../../../src/queue/schedules/types.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { testOptions } from "../../log/helpers.js";
import { recordingLogger } from "../../recording-logger.js";
import { clockAt, firesOf, open, settle } from "./helpers.js";

const HOUR = 3_600_000;

function definition(name: string, timezone: string, setAt: number): ScheduleDefinition {
  return {
    name,
    cron: "0 * * * *",
    everyMs: undefined,
    timezone,
    queue: "jobs",
    payload: Buffer.from(""),
    options: undefined,
    startAt: undefined,
    endAt: undefined,
    catchUp: "latest",
    setAt,
  };
}

describe("schedules: a stored time zone this runtime does not know", () => {
  it("opens, reports it, never fires it, and fires the others", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append(
      ["a", "mars", "z"].map((name) =>
        encodeRecord({
          tag: Tag.ScheduleSet,
          schedule: definition(name, name === "mars" ? "Mars/Olympus_Mons" : "UTC", t0),
        }),
      ),
    );
    await log.close();
    const logger = recordingLogger();
    const queue = await open(store, clock, { logger });
    clock.advance(HOUR);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "a"), [t0 + HOUR]);
    assert.deepEqual(await firesOf(queue, "jobs", "z"), [t0 + HOUR]);
    assert.deepEqual(await firesOf(queue, "jobs", "mars"), []);
    assert.ok(
      logger.messages("error").some((m) => m.includes('"mars"') && m.includes("does not fire")),
    );
    const listed = await queue.listSchedules();
    assert.deepEqual(
      listed.map((s) => [s.name, s.nextRunAt]),
      [
        ["a", t0 + 2 * HOUR],
        ["mars", null],
        ["z", t0 + 2 * HOUR],
      ],
    );
    await queue.close();
  });
});
