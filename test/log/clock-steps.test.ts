import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Clock, ManualClock, startTimer, withMonotonic } from "../../src/clock.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { rec, testOptions } from "./helpers.js";

/** Lets promise callbacks and immediates run without moving the clock. */
async function settleMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise(setImmediate);
}

/** Whether `promise` settled (either way) after letting pending work run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await settleMicrotasks();
  return settled;
}

describe("clocks: wall steps move no interval", { timeout: 30_000 }, () => {
  it("ManualClock.stepWall moves the wall reading only; timers follow advance()", async () => {
    const clock = new ManualClock(1_000_000);
    let fired = 0;
    startTimer(clock, 100, () => fired++);
    clock.stepWall(-10_000);
    assert.equal(clock.now(), 990_000);
    assert.equal(clock.monotonicNow(), 0);
    clock.advance(99);
    await settleMicrotasks();
    assert.equal(fired, 0);
    clock.advance(1);
    await settleMicrotasks();
    assert.equal(fired, 1);
    clock.stepWall(3_600_000);
    assert.equal(clock.monotonicNow(), 100);
    assert.throws(() => clock.stepWall(Number.NaN), InvalidArgumentError);
  });

  it("a clock without monotonicNow counts only forward wall movements", () => {
    let wall = 5_000;
    const plain: Clock = { now: () => wall };
    const timed = withMonotonic(plain);
    const start = timed.monotonicNow();
    wall += 30;
    assert.equal(timed.monotonicNow() - start, 30);
    wall -= 10_000; // a step back: no time passed, and nothing waits for the wall to catch up
    assert.equal(timed.monotonicNow() - start, 30);
    wall += 5;
    assert.equal(timed.monotonicNow() - start, 35);
    const manual = new ManualClock();
    assert.equal(withMonotonic(manual), manual);
  });

  it("a wall step back of 10 s stalls no append (group-commit window)", async () => {
    const clock = new ManualClock();
    const { log } = await openLog(
      new MemoryStore(),
      "q",
      testOptions({ clock, flushIntervalMs: 5 }),
    );
    const appended = log.append(rec("after the step"));
    clock.stepWall(-10_000);
    assert.equal(await isSettled(appended), false, "the window had not passed yet");
    clock.advance(5);
    assert.equal(await isSettled(appended), true, "the append waited for the wall clock");
    await appended;
    await log.close();
  });

  it("a wall step back of 10 s stalls no retry backoff", async () => {
    const clock = new ManualClock();
    const faults = new FaultStore(new MemoryStore());
    const { log } = await openLog(
      faults,
      "q",
      testOptions({
        clock,
        flushIntervalMs: 0,
        retry: { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 60_000 },
      }),
    );
    faults.addRule({ mode: "before", op: "put", keyPrefix: "q/wal/", times: 1 });
    const appended = log.append(rec("retried"));
    await settleMicrotasks(); // the first attempt fails; the retry sleeps
    clock.stepWall(-10_000);
    assert.equal(await isSettled(appended), false, "the retry had not happened yet");
    clock.advance(100); // the longest backoff with jitter
    await settleMicrotasks();
    assert.equal(await isSettled(appended), true, "the retry waited for the wall clock");
    await appended;
    await log.close();
  });

  it("a wall step forward of an hour starts no checkpoint (the interval is monotonic)", async () => {
    const clock = new ManualClock();
    const { log } = await openLog(
      new MemoryStore(),
      "q",
      testOptions({ clock, flushIntervalMs: 0, checkpointIntervalMs: 60_000 }),
    );
    log.setSnapshotSource(() => rec("state"));
    clock.stepWall(3_600_000);
    await log.append(rec("a"));
    await settleMicrotasks();
    assert.equal(log.stats().checkpointsWritten, 0);
    clock.advance(60_000);
    await log.append(rec("b"));
    for (let i = 0; i < 20 && log.stats().checkpointsWritten === 0; i++) await settleMicrotasks();
    assert.equal(log.stats().checkpointsWritten, 1);
    // Stored and reported times are wall times.
    assert.equal(log.stats().lastCheckpointAt, clock.now());
    await log.close();
  });
});
