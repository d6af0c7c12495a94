import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { QueueTimers } from "../../src/queue/timers.js";

/** Timers on a ManualClock, recording the clock time of every pass. */
function timers(schedulerIntervalMs = 1_000, reaperIntervalMs = 5_000) {
  const clock = new ManualClock(0);
  const promoted: number[] = [];
  const reaped: number[] = [];
  const t = new QueueTimers(
    clock,
    { schedulerIntervalMs, reaperIntervalMs },
    { promote: () => void promoted.push(clock.now()), reap: () => void reaped.push(clock.now()) },
  );
  return { t, clock, promoted, reaped };
}

/** Lets timers due "now" fire (a ManualClock fires due timers on a microtask). */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe("queue timers", { timeout: 60_000 }, () => {
  it("scheduler: idle until asked, then fires once at the requested time", async () => {
    const { t, clock, promoted } = timers(10_000);
    clock.advance(50_000);
    assert.deepEqual(promoted, [], "idle: no pass without a scheduleAt");
    t.scheduleAt(50_300);
    clock.advance(299);
    assert.deepEqual(promoted, []);
    clock.advance(1);
    assert.deepEqual(promoted, [50_300]);
    clock.advance(60_000);
    assert.deepEqual(promoted, [50_300], "back to idle after firing");
  });

  it("scheduler: an earlier deadline replaces the armed one; a later one changes nothing", () => {
    const { t, clock, promoted } = timers(10_000);
    t.scheduleAt(500);
    t.scheduleAt(200);
    t.scheduleAt(900);
    clock.advance(199);
    assert.deepEqual(promoted, []);
    clock.advance(1);
    assert.deepEqual(promoted, [200]);
    clock.advance(10_000);
    assert.deepEqual(
      promoted,
      [200],
      "one timer: the replaced and the ignored deadlines never fire",
    );
  });

  it("scheduler: never waits longer than one scheduler interval", () => {
    const { t, clock, promoted } = timers(1_000);
    t.scheduleAt(1_000_000);
    clock.advance(1_000);
    assert.deepEqual(promoted, [1_000]);
  });

  it("scheduler: a due or past time fires on the next turn", async () => {
    const { t, clock, promoted } = timers();
    clock.advance(100);
    t.scheduleAt(50);
    assert.deepEqual(promoted, []);
    await settle();
    assert.deepEqual(promoted, [100]);
  });

  it("reaper: fires every interval once started", () => {
    const { t, clock, reaped } = timers(1_000, 5_000);
    clock.advance(10_000);
    assert.deepEqual(reaped, [], "not before start");
    t.start();
    for (let i = 0; i < 3; i++) clock.advance(5_000);
    assert.deepEqual(reaped, [15_000, 20_000, 25_000]);
  });

  it("stop: nothing fires or arms again", () => {
    const { t, clock, promoted, reaped } = timers();
    t.start();
    t.scheduleAt(100);
    t.stop();
    t.scheduleAt(200);
    clock.advance(60_000);
    assert.deepEqual(promoted, []);
    assert.deepEqual(reaped, []);
  });
});
