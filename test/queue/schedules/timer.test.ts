/**
 * The scheduler's timer: armed for the earliest next fire of all schedules
 * (not on a fixed tick), re-armed when schedules change, and re-planned when
 * the wall clock steps (noticed within one scheduler interval), on a
 * `ManualClock` and on clocks taquba cannot see move.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../../src/logger.js";
import { Queue } from "../../../src/queue/queue.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { until } from "../../until.js";
import { steppedClocks } from "../helpers.js";
import { clockAt, firesOf, open, settle } from "./helpers.js";

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

describe("schedules: timer", () => {
  it("fires at its time, even when the scheduler interval is far longer", async () => {
    const clock = clockAt("2027-03-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock, { schedulerIntervalMs: HOUR });
    await queue.schedule("ten", { everyMs: 10 * SECOND, queue: "jobs", payload: "" });
    clock.advance(10 * SECOND - 1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "ten"), []);
    clock.advance(1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "ten"), [t0 + 10 * SECOND]);
    await queue.close();
  });

  it("re-arms for the next earliest when the earliest is removed or replaced", async () => {
    const clock = clockAt("2027-03-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock, { schedulerIntervalMs: HOUR });
    await queue.schedule("soon", { everyMs: MINUTE, queue: "jobs", payload: "" });
    await queue.schedule("later", { everyMs: 5 * MINUTE, queue: "jobs", payload: "" });
    await queue.schedule("moved", { everyMs: 20 * MINUTE, queue: "jobs", payload: "" });
    assert.equal(await queue.unschedule("soon"), true);
    // Replaced: now the earliest of all (setAt stays t0: no time passed).
    await queue.schedule("moved", { everyMs: 2 * MINUTE, queue: "jobs", payload: "" });
    clock.advance(2 * MINUTE);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "soon"), []);
    assert.deepEqual(await firesOf(queue, "jobs", "moved"), [t0 + 2 * MINUTE]);
    clock.advance(3 * MINUTE);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "later"), [t0 + 5 * MINUTE]);
    assert.deepEqual(
      await firesOf(queue, "jobs", "moved"),
      [2, 4].map((k) => t0 + k * MINUTE),
    );
    const listed = await queue.listSchedules();
    assert.deepEqual(
      listed.map((s) => [s.name, s.nextRunAt]),
      [
        ["later", t0 + 10 * MINUTE],
        ["moved", t0 + 6 * MINUTE],
      ],
    );
    await queue.close();
  });

  it("a wall step forward is noticed within one scheduler interval, with the next fire hours away", async () => {
    const clock = clockAt("2027-03-01T00:00:00Z");
    const queue = await open(new MemoryStore(), clock, { schedulerIntervalMs: SECOND });
    await queue.schedule("daily", { cron: "0 3 * * *", queue: "jobs", payload: "" });
    clock.stepWall(4 * HOUR);
    clock.advance(SECOND - 1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "daily"), []);
    clock.advance(1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "daily"), [Date.parse("2027-03-01T03:00:00Z")]);
    await queue.close();
  });

  for (const { kind, clock, step } of steppedClocks()) {
    it(`a step forward of a clock taquba cannot see move (${kind}) fires what is due within one scheduler interval`, async () => {
      // Such a clock runs on real time: the interval is short, and so is the wait.
      const queue = await Queue.open(new MemoryStore(), "q", {
        clock,
        logger: silentLogger,
        flushIntervalMs: 0,
        schedulerIntervalMs: 50,
      });
      await queue.schedule("minutely", { everyMs: MINUTE, queue: "jobs", payload: "" });
      await queue.schedule("hourly", { cron: "0 * * * *", queue: "jobs", payload: "" });
      await queue.enqueue("later", "", { delayMs: HOUR });
      const next = new Map((await queue.listSchedules()).map((s) => [s.name, s.nextRunAt!]));
      const firstMinute = next.get("minutely")!;
      const firstHour = next.get("hourly")!;
      // Land 30 s past a minutely fire and more than 30 s past the second hourly fire, so the
      // real time the test takes (this clock runs on it) cannot cross the next fire of either.
      const minuteOffset = (((firstMinute - firstHour) % MINUTE) + MINUTE) % MINUTE;
      const target = firstHour + HOUR + minuteOffset + 30 * SECOND;
      const minutelyDue = (target - 30 * SECOND - firstMinute) / MINUTE + 1;
      step(target - clock.now());
      // Without re-reading the clock, the timers armed before the step wait a real minute.
      await until(
        async () => (await firesOf(queue, "jobs", "minutely")).length >= minutelyDue,
        "the minutely fires the step made due",
        500,
      );
      await until(
        async () => (await firesOf(queue, "jobs", "hourly")).length >= 2,
        "the hourly fires the step made due",
        500,
      );
      await until(async () => (await queue.stats("later")).pending === 1, "the delayed job", 500);
      assert.deepEqual(
        await firesOf(queue, "jobs", "minutely"),
        Array.from({ length: minutelyDue }, (_, k) => firstMinute + k * MINUTE),
      );
      assert.deepEqual(await firesOf(queue, "jobs", "hourly"), [firstHour, firstHour + HOUR]);
      await queue.close();
    });
  }

  it("a wall step back re-plans: the fire waits for its wall time, once", async () => {
    const clock = clockAt("2027-03-01T02:59:00Z");
    const fireAt = Date.parse("2027-03-01T03:00:00Z");
    const queue = await open(new MemoryStore(), clock, { schedulerIntervalMs: SECOND });
    await queue.schedule("daily", { cron: "0 3 * * *", queue: "jobs", payload: "" });
    clock.advance(30 * SECOND);
    clock.stepWall(-HOUR);
    // The timer armed for 03:00 runs out on monotonic time at 02:00 wall: nothing fires.
    clock.advance(30 * SECOND);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "daily"), []);
    clock.advance(HOUR - 1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "daily"), []);
    clock.advance(1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "daily"), [fireAt]);
    clock.advance(HOUR);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "daily"), [fireAt]);
    await queue.close();
  });

  it("fires brought due by one clock step commit within that step, even when every slice budget is spent", async () => {
    const clock = clockAt("2027-03-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock);
    await queue.schedule("a", { everyMs: HOUR, queue: "jobs", payload: "" });
    await queue.schedule("b", { everyMs: HOUR, queue: "jobs", payload: "" });
    await settle(queue);
    // A descheduled process: every reading of the process clock is 10 ms after the last.
    const realNow = performance.now.bind(performance);
    let skew = 0;
    performance.now = () => {
      skew += 10;
      return realNow() + skew;
    };
    let fires: number[];
    try {
      for (let hour = 0; hour < 3; hour++) clock.advance(HOUR);
      // Read in this turn's microtasks, before a continuation in a later turn could fire.
      fires = (await queue.listJobs("jobs", "pending")).jobs.map((job) =>
        Number(job.dedupKey?.split(":").at(-1)),
      );
    } finally {
      performance.now = realNow;
    }
    assert.deepEqual(
      fires.sort((x, y) => x - y),
      [1, 2, 3].flatMap((h) => [t0 + h * HOUR, t0 + h * HOUR]),
    );
    await queue.close();
  });
});
