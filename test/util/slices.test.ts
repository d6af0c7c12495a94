import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { SliceBudget, StepSizer, sortInSlices } from "../../src/util/slices.js";

/** Runs the CPU for at least `ms` milliseconds (a step that costs that much). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("StepSizer", () => {
  it("gives the smallest step when the slice has no time left, the largest when it has plenty", () => {
    const sizer = new StepSizer(16, 2_048, 0.004);
    const spent = new SliceBudget(0);
    spent.start();
    assert.equal(sizer.size(spent), 16);
    const long = new SliceBudget(60_000);
    long.start();
    assert.equal(sizer.size(long), 2_048);
  });

  it("follows a slower step at once and a faster one by halves", () => {
    const sizer = new StepSizer(1, 10_000, 0.001);
    const budget = new SliceBudget(4);
    sizer.begin();
    spin(2);
    sizer.end(10); // at least 0.2 ms per item
    budget.start();
    const slow = sizer.size(budget);
    assert.ok(slow <= 20, `${slow} items of at least 0.2 ms each in a 4 ms slice`);
    sizer.begin();
    sizer.end(1_000_000); // a step that took next to nothing per item
    budget.start();
    const faster = sizer.size(budget);
    assert.ok(
      faster > slow && faster <= 40,
      `${faster}: at most twice as many after one fast step`,
    );
  });

  it("a step of no items teaches it nothing", () => {
    const sizer = new StepSizer(1, 10_000, 1);
    sizer.begin();
    spin(1);
    sizer.end(0);
    const budget = new SliceBudget(1_000);
    budget.start();
    const size = sizer.size(budget);
    assert.ok(size >= 990 && size <= 1_000, `${size}: still 1 ms per item`);
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
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const items = Array.from({ length: 10_000 }, (_, i) => `name-${(i * 7_919) % 10_000}`);
    const sorted = await sortInSlices(
      items,
      (a, b) => (a < b ? -1 : a > b ? 1 : 0),
      new SliceBudget(0),
    );
    running = false;
    assert.deepEqual(sorted, items.slice().sort());
    assert.ok(turns > 10, `${turns} turns`);
  });
});
