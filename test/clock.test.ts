import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Clock,
  DEFAULT_RECHECK_MS,
  ManualClock,
  startTimer,
  systemClock,
  type TimerHandle,
  withMonotonic,
} from "../src/clock.js";
import { InvalidArgumentError, TaqubaError } from "../src/errors.js";
import { until } from "./until.js";

/** A bad argument to the public `ManualClock` is a typed error in the library's one message style. */
function assertInvalid(fn: () => unknown, argument: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(e)}`);
    assert.ok(e instanceof TaqubaError);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.match(e.message, new RegExp(`^Expected \`${argument}\` to be .*, got `));
    return true;
  });
}

describe("ManualClock", { timeout: 10_000 }, () => {
  it("rejects a bad start, advance, step or set with InvalidArgumentError and keeps its time", () => {
    for (const start of [Number.NaN, Number.POSITIVE_INFINITY, "0"])
      assertInvalid(() => new ManualClock(start as number), "startMs");
    const clock = new ManualClock(1_000);
    for (const ms of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "5"])
      assertInvalid(() => clock.advance(ms as number), "ms");
    for (const ms of [Number.NaN, Number.NEGATIVE_INFINITY, "5"]) {
      assertInvalid(() => clock.stepWall(ms as number), "ms");
      assertInvalid(() => clock.set(ms as number), "ms");
    }
    assert.equal(clock.now(), 1_000);
    assert.equal(clock.monotonicNow(), 0);
  });

  it("still accepts what it always did: no argument, a start before 1970, zero and wall steps back", () => {
    assert.equal(new ManualClock().now(), 1_700_000_000_000);
    const clock = new ManualClock(-5_000);
    clock.advance(0);
    clock.advance(2.5);
    clock.stepWall(-10);
    assert.equal(clock.now(), -5_007.5);
    assert.equal(clock.monotonicNow(), 2.5);
  });

  it("set(earlier) sets the wall clock back like advance(negative); set(later) lets time pass", async () => {
    const clock = new ManualClock(100_000);
    const fired: string[] = [];
    startTimer(clock, 1_000, () => fired.push("a"));
    clock.set(100_500);
    assert.deepEqual([clock.now(), clock.monotonicNow()], [100_500, 500]);
    clock.set(40_000);
    assert.deepEqual([clock.now(), clock.monotonicNow()], [40_000, 500], "monotonic never back");
    await Promise.resolve();
    assert.deepEqual(fired, [], "a step back fires nothing");
    clock.set(40_500);
    assert.deepEqual([clock.now(), clock.monotonicNow()], [40_500, 1_000]);
    assert.deepEqual(fired, ["a"]);
  });

  it("advance(negative) steps the wall clock back; monotonic time and timers do not go back", async () => {
    const clock = new ManualClock(100_000);
    const fired: string[] = [];
    startTimer(clock, 1_000, () => fired.push("a"));
    startTimer(clock, 2_000, () => fired.push("b"));
    clock.advance(500);
    clock.advance(-60_000);
    assert.equal(clock.now(), 40_500);
    assert.equal(clock.monotonicNow(), 500);
    await Promise.resolve();
    assert.equal(fired.length, 0, "a step back fires nothing");
    // A timer started after the step is still due by monotonic time, after the earlier ones.
    startTimer(clock, 1_000, () => fired.push("c"));
    clock.advance(500);
    assert.deepEqual(fired, ["a"]);
    clock.advance(-1);
    clock.advance(500);
    assert.deepEqual(fired, ["a", "c"]);
    clock.advance(500);
    assert.deepEqual(fired, ["a", "c", "b"]);
    assert.equal(clock.now(), 41_999);
    assert.equal(clock.monotonicNow(), 2_000);
  });
});

/** The delays of the real timers `fn` arms (calls of the global `setTimeout`). */
function realTimersOf(fn: () => void): number[] {
  const delays: number[] = [];
  const real = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, delay?: number) => {
    delays.push(delay ?? 0);
    return real(handler, delay);
  }) as typeof setTimeout;
  try {
    fn();
  } finally {
    globalThis.setTimeout = real;
  }
  return delays;
}

describe("timers", { timeout: 10_000 }, () => {
  it("on the system clock, one real timer for the whole delay; on a ManualClock, none", () => {
    const timers: TimerHandle[] = [];
    const system = realTimersOf(() => timers.push(startTimer(systemClock, 600_000, () => {})));
    for (const timer of timers) timer.cancel();
    assert.equal(system.length, 1);
    assert.ok(system[0]! > 599_000, `armed for ${system[0]} ms`);
    const manual = realTimersOf(() => startTimer(new ManualClock(), 600_000, () => {}).cancel());
    assert.deepEqual(manual, []);
    assert.equal(withMonotonic(systemClock, 50), systemClock);
  });

  it("on any other clock, re-reads it every recheck interval: a step forward fires what is due", async () => {
    let offset = 0;
    const clocks: [string, Clock][] = [
      ["now() only", { now: () => Date.now() + offset }],
      [
        "both readings",
        { now: () => Date.now() + offset, monotonicNow: () => performance.now() + offset },
      ],
    ];
    for (const [kind, clock] of clocks) {
      const timed = withMonotonic(clock, 20);
      let fired = 0;
      const delays = realTimersOf(() => startTimer(timed, 600_000, () => fired++));
      assert.deepEqual(delays, [20], kind);
      offset += 600_000;
      await until(() => fired === 1, `${kind}: the timer fired`, 300);
    }
    // A clock given no interval is re-read at the default one.
    const plain = realTimersOf(() =>
      startTimer({ now: () => Date.now() }, 600_000, () => {}).cancel(),
    );
    assert.deepEqual(plain, [DEFAULT_RECHECK_MS]);
  });

  it("on any other clock, all its timers share one real timer and one clock read per recheck; they fire in deadline order", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    let mono = 0;
    let reads = 0;
    const timed = withMonotonic(
      {
        now: () => 1_700_000_000_000 + mono,
        monotonicNow: () => {
          reads++;
          return mono;
        },
      },
      20,
    );
    const fired: number[] = [];
    const timers: TimerHandle[] = [];
    // Added in reverse deadline order.
    const armed = realTimersOf(() => {
      for (let i = 99; i >= 0; i--) timers[i] = startTimer(timed, 1_000 + i, () => fired.push(i));
    });
    assert.deepEqual(armed, [20], "one real timer for a hundred");
    reads = 0;
    for (let k = 0; k < 5; k++) t.mock.timers.tick(20);
    assert.equal(reads, 5, "one read per recheck, not one per timer");
    assert.equal(fired.length, 0);

    mono += 1_050; // a step: the first 51 are due
    t.mock.timers.tick(20);
    assert.deepEqual(
      fired,
      Array.from({ length: 51 }, (_, i) => i),
    );
    timers[60]!.cancel();
    mono += 1_000;
    t.mock.timers.tick(20);
    assert.equal(fired.length, 99);
    assert.ok(!fired.includes(60), "a cancelled timer does not fire");
    assert.deepEqual(
      fired,
      [...fired].sort((a, b) => a - b),
    );

    // A sooner timer than the armed one re-arms the shared timer sooner.
    const later = realTimersOf(() => {
      timers.push(startTimer(timed, 10_000, () => fired.push(-1)));
      timers.push(startTimer(timed, 5, () => fired.push(-2)));
    });
    assert.deepEqual(later, [20, 5]);
    mono += 5;
    t.mock.timers.tick(5);
    assert.equal(fired.at(-1), -2);
    for (const timer of timers) timer.cancel();
  });

  it("on any other clock, a timer cancelled by another's callback in the same wake-up does not fire", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    let mono = 0;
    const timed = withMonotonic(
      { now: () => 1_700_000_000_000 + mono, monotonicNow: () => mono },
      20,
    );
    const fired: string[] = [];
    let b: TimerHandle | undefined;
    startTimer(timed, 100, () => {
      fired.push("A");
      b?.cancel();
    });
    b = startTimer(timed, 100, () => fired.push("B"));
    const c = startTimer(timed, 100, () => fired.push("C"));
    mono = 200; // a step: all three are due in one wake-up
    t.mock.timers.tick(20);
    assert.deepEqual(fired, ["A", "C"], "B was cancelled by A before its turn");
    c.cancel(); // cancelling a timer that fired is a no-op
  });
});
