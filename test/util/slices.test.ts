import assert from "node:assert/strict";
import { stat } from "node:fs";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import {
  nextTurn,
  SliceBudget,
  StepSizer,
  sortInSlices,
  TurnWindow,
} from "../../src/util/slices.js";
import { turnsDuring } from "../turns.js";

/** A monotonic clock the test moves by hand, so sizes do not depend on the machine's speed or load. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("SliceBudget", () => {
  it("is spent once its milliseconds have passed, and a new start gives them back", () => {
    const clock = manualClock();
    const budget = new SliceBudget(4, clock.now);
    budget.start();
    assert.equal(budget.spent(), false);
    assert.equal(budget.remainingMs(), 4);
    clock.advance(3);
    assert.equal(budget.remainingMs(), 1);
    clock.advance(1);
    assert.equal(budget.spent(), true);
    clock.advance(10);
    assert.equal(budget.remainingMs(), 0, "never negative");
    budget.start();
    assert.equal(budget.spent(), false);
    assert.equal(budget.remainingMs(), 4);
  });
});

describe("TurnWindow", () => {
  /** Two slices of `window`, started in this turn one after the other: what each was given. */
  const twoSlices = (clock: ReturnType<typeof manualClock>, window: TurnWindow) => {
    const first = new SliceBudget(4, clock.now, window);
    const second = new SliceBudget(4, clock.now, window);
    first.start();
    const firstMs = first.remainingMs();
    clock.advance(firstMs);
    assert.equal(first.spent(), true);
    second.start();
    const secondMs = second.remainingMs();
    clock.advance(secondMs);
    assert.equal(second.spent(), true);
    return [firstMs, secondMs];
  };

  /** A slice of `budget` that works until its time is spent; what it was given. */
  const runOut = (clock: ReturnType<typeof manualClock>, budget: SliceBudget): number => {
    budget.start();
    const given = budget.remainingMs();
    clock.advance(given);
    assert.equal(budget.spent(), true);
    return given;
  };

  it("slices started in the same turn share one window, each getting at least the smallest share", () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    // The first turn knows of one piece of work: the first slice gets the window, the second the smallest share.
    assert.deepEqual(twoSlices(clock, window), [4, 1]);
  });

  it("the next turn splits the window between as many slices as ran out of their time in the turn before", async () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    twoSlices(clock, window);
    await nextTurn();
    assert.deepEqual(twoSlices(clock, window), [2, 2], "whichever resumes first");
    await nextTurn();
    const alone = new SliceBudget(4, clock.now, window);
    assert.equal(runOut(clock, alone), 2, "its part, as two ran out in the turn before");
    await nextTurn();
    assert.equal(runOut(clock, alone), 4, "the whole window once it runs alone");
  });

  it("cheap slices started before a slice that runs out leave it what they did not use", async () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    const bulk = new SliceBudget(4, clock.now, window);
    runOut(clock, bulk);
    for (let turn = 0; turn < 3; turn++) {
      await nextTurn();
      // Twenty callers that each look at their budget once and are done (a listing of an empty queue).
      for (let i = 0; i < 20; i++) {
        const cheap = new SliceBudget(4, clock.now, window);
        cheap.start();
        clock.advance(0.01);
        assert.equal(cheap.spent(), false);
      }
      const given = runOut(clock, bulk);
      assert.ok(
        Math.abs(given - 3.8) < 1e-9,
        `turn ${turn}: the bulk slice got ${given} ms, not 3.8`,
      );
    }
  });

  it("a window no slice ran out of ends by the next check phase: a bulk slice started there, after the host's own work, gets a whole window", async () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    // A cheap call (one job's removal, a listing of an empty queue) opens a window and is done in time.
    const cheap = new SliceBudget(4, clock.now, window);
    cheap.start();
    assert.equal(cheap.spent(), false);
    const given = await new Promise<number>((resolve) => {
      setImmediate(() => {
        clock.advance(10); // the host's own work in the next check phase
        const bulk = new SliceBudget(4, clock.now, window);
        bulk.start();
        resolve(bulk.remainingMs());
      });
    });
    assert.equal(given, 4);
  });

  it("a slice started from a timer after a check-phase slice spent the window gets a window of its own, and so does the next check-phase slice", async () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    const got = await new Promise<number[]>((resolve) => {
      setImmediate(() => {
        runOut(clock, new SliceBudget(4, clock.now, window));
        setTimeout(() => {
          const fromTimer = runOut(clock, new SliceBudget(4, clock.now, window));
          setImmediate(() =>
            resolve([fromTimer, runOut(clock, new SliceBudget(4, clock.now, window))]),
          );
        }, 0);
        // This check phase outlasts the timer's millisecond (the slice clock is the test's, the
        // loop's is real): the timer is due in the next iteration's timers phase, before the check phase.
        const until = performance.now() + 2;
        while (performance.now() < until);
      });
    });
    assert.deepEqual(got, [4, 4]);
  });

  it("a slice started by I/O or by a host's own check-phase loop, beside a check-phase slicer, keeps one loop iteration to one window", async () => {
    /**
     * Slice work per loop iteration when `poll` (an I/O callback) or a host loop in the check
     * phase (`host`, queuing itself first) runs slices that work until spent, beside a rival
     * slicer that resumes in the check phase: the worst of the poll phase's slices plus the check
     * phase's that follow them (a counter that runs first in each check phase tells them apart).
     */
    const worstPerIteration = (start: "poll" | "host") =>
      new Promise<number>((resolve) => {
        // Each reading moves the slice clock 0.05 ms; each check phase lasts 1.2 ms of real time,
        // so the window's 0 ms timer is due in the next timers phase.
        let at = 0;
        const now = (): number => (at += 0.05);
        const window = new TurnWindow();
        const work = { poll: 0, check: 0 };
        let pollOfThisIteration = 0;
        let worst = 0;
        let iterations = 0;
        const done = (): boolean => iterations >= 30;
        const slice = (budget: SliceBudget, phase: keyof typeof work): void => {
          const from = at;
          budget.start();
          while (!budget.spent());
          work[phase] += at - from;
        };
        const count = (): void => {
          if (++iterations > 3) worst = Math.max(worst, pollOfThisIteration + work.check);
          pollOfThisIteration = work.poll;
          work.poll = 0;
          work.check = 0;
          const until = performance.now() + 1.2;
          while (performance.now() < until);
          if (done()) resolve(worst);
          else setImmediate(count);
        };
        setImmediate(count);
        const own = new SliceBudget(4, now, window);
        if (start === "poll") {
          const fromIo = (): void => {
            if (done()) return;
            slice(own, "poll");
            stat("/", fromIo);
          };
          stat("/", fromIo);
        } else {
          const host = (): void => {
            if (done()) return;
            setImmediate(host);
            slice(own, "check");
          };
          setImmediate(host);
        }
        const rivalBudget = new SliceBudget(4, now, window);
        const rival = (): void => {
          if (done()) return;
          slice(rivalBudget, "check");
          setImmediate(rival);
        };
        setImmediate(rival);
      });
    for (const start of ["poll", "host"] as const) {
      const worst = await worstPerIteration(start);
      assert.ok(worst <= 5.5, `${start}: ${worst.toFixed(2)} ms of slice work in one iteration`);
    }
  });

  /** A clock reading `clock` that counts its readings. */
  const counting = (clock: ReturnType<typeof manualClock>) => {
    const counted = {
      readings: 0,
      now: (): number => {
        counted.readings++;
        return clock.now();
      },
    };
    return counted;
  };

  it("a long commit charged to a closed window leaves the slices after it in the same turn their least share", async () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    // Sliced work under way: its slice ran out of its time in the last window.
    runOut(clock, new SliceBudget(4, clock.now, window));
    await nextTurn();
    const started = window.chargeFrom(clock.now);
    assert.notEqual(started, null);
    clock.advance(15); // a flow's commit: apply and append in one synchronous step
    window.charge(started, clock.now);
    const slice = new SliceBudget(4, clock.now, window);
    slice.start();
    assert.equal(slice.remainingMs(), 1, "the least share, not a window of its own");
  });

  it("a commit reads no clock in an open window or with no sliced work under way, and a short one opens no window", async () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    const counted = counting(clock);
    assert.equal(window.chargeFrom(counted.now), null, "no slice ran out: nothing to hold back");
    const bulk = new SliceBudget(4, clock.now, window);
    bulk.start();
    clock.advance(2.5);
    assert.equal(window.chargeFrom(counted.now), null, "an open window counts it already");
    assert.equal(counted.readings, 0);
    clock.advance(1.5);
    assert.equal(bulk.spent(), true);
    await nextTurn();
    const started = window.chargeFrom(counted.now);
    clock.advance(0.5);
    window.charge(started, counted.now);
    assert.equal(counted.readings, 2, "one reading at its start, one at its end");
    const next = new SliceBudget(4, clock.now, window);
    next.start();
    assert.equal(next.remainingMs(), 4, "a short commit left the window closed");
  });

  it("a slice's own length still bounds it", () => {
    const clock = manualClock();
    const window = new TurnWindow(1);
    const first = new SliceBudget(4, clock.now, window);
    first.start();
    const short = new SliceBudget(2, clock.now, window);
    short.start();
    assert.equal(short.remainingMs(), 2, "its 2 ms, though the window has 4");
    const none = new SliceBudget(0, clock.now, window);
    none.start();
    assert.equal(none.spent(), true, "a zero budget stays one unit per step");
  });
});

describe("StepSizer", () => {
  it("gives the smallest step when the slice has no time left, the largest when it has plenty", () => {
    const clock = manualClock();
    const sizer = new StepSizer(16, 2_048, 0.004, clock.now);
    const spent = new SliceBudget(0, clock.now);
    spent.start();
    assert.equal(sizer.size(spent), 16);
    const long = new SliceBudget(60_000, clock.now);
    long.start();
    assert.equal(sizer.size(long), 2_048);
  });

  it("follows a slower step at once and a faster one by halves", () => {
    const clock = manualClock();
    const sizer = new StepSizer(1, 10_000, 0.001, clock.now);
    const budget = new SliceBudget(4, clock.now);
    sizer.begin();
    clock.advance(2);
    sizer.end(10); // 0.2 ms per item: the estimate follows at once
    budget.start();
    assert.equal(sizer.size(budget), 20, "20 items of 0.2 ms in a 4 ms slice");
    sizer.begin();
    sizer.end(1_000_000); // a step that took no time: the estimate halves, no more
    budget.start();
    assert.equal(sizer.size(budget), 40, "twice as many after one fast step");
    sizer.begin();
    sizer.end(1_000_000);
    budget.start();
    assert.equal(sizer.size(budget), 80, "and twice again after another");
    clock.advance(3);
    assert.equal(sizer.size(budget), 20, "sized to what is left of the slice");
  });

  it("after a restart, probes with a few times the least step and grows by four a timed step", () => {
    const clock = manualClock();
    const sizer = new StepSizer(16, 2_048, 0.004, clock.now);
    const budget = new SliceBudget(60_000, clock.now);
    budget.start();
    assert.equal(sizer.size(budget), 2_048, "no cap before a restart");
    sizer.restart();
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const size = sizer.size(budget);
      sizes.push(size);
      sizer.begin();
      sizer.end(size);
    }
    assert.deepEqual(sizes, [64, 256, 1_024, 2_048, 2_048]);
    sizer.restart();
    sizer.begin();
    sizer.end(0);
    assert.equal(sizer.size(budget), 64, "a step of no items does not grow it");
    const spent = new SliceBudget(0, clock.now);
    spent.start();
    assert.equal(sizer.size(spent), 16, "never below the least step");
  });

  it("a step of no items teaches it nothing", () => {
    const clock = manualClock();
    const sizer = new StepSizer(1, 10_000, 1, clock.now);
    sizer.begin();
    clock.advance(1);
    sizer.end(0);
    const budget = new SliceBudget(1_000, clock.now);
    budget.start();
    assert.equal(sizer.size(budget), 1_000, "still 1 ms per item");
  });
});

describe("sortInSlices", () => {
  it("sorts as the built-in sort does, stably, however the slices fall", async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed;
    };
    for (const n of [0, 1, 2, 511, 512, 513, 1_500, 5_000, 20_000]) {
      const items = Array.from({ length: n }, (_, i) => ({ key: random() % 997, i }));
      const compare = (a: { key: number }, b: { key: number }) => a.key - b.key;
      const expected = items.slice().sort(compare);
      for (const ms of [0, 60_000]) {
        const sorted = await sortInSlices(items, compare, new SliceBudget(ms));
        assert.deepEqual(sorted, expected, `${n} items, ${ms} ms slices`);
      }
      assert.equal(items.length, n, "the input is left alone");
    }
  });

  it("gives the event loop turns while it works", async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => `name-${(i * 7_919) % 10_000}`);
    const { result: sorted, turns } = await turnsDuring(() =>
      sortInSlices(items, (a, b) => (a < b ? -1 : a > b ? 1 : 0), new SliceBudget(0)),
    );
    assert.deepEqual(sorted, items.slice().sort());
    assert.ok(turns > 10, `${turns} turns`);
  });
});
