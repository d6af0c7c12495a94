import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.js";
import { InvalidArgumentError, TaqubaError } from "../src/errors.js";

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
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY, "5"])
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
});
