import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { SliceBudget, StepSizer } from "../../src/util/slices.js";

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
