import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FREES_KEPT, ReadyTarget, ROUND_TRIPS_KEPT } from "../../src/worker/ready-target.js";

/** `count` slot frees `everyMs` apart, starting at `from`. */
function freeSlots(target: ReadyTarget, count: number, everyMs: number, from = 0): number {
  let at = from;
  for (let i = 0; i < count; i++) {
    target.slotFreed(at);
    at += everyMs;
  }
  return at;
}

describe("ReadyTarget", () => {
  it("holds none until a round-trip and two slot frees were measured", () => {
    const target = new ReadyTarget(8);
    assert.equal(target.value, 0);
    target.settled(2);
    assert.equal(target.value, 0, "no slot freed yet");
    target.slotFreed(10);
    assert.equal(target.value, 0, "one free is no rate");
    target.slotFreed(10.5);
    assert.equal(target.value, 4, "one free every 0.5 ms × a 2 ms round-trip");
    const other = new ReadyTarget(8);
    freeSlots(other, 10, 0.1);
    assert.equal(other.value, 0, "no round-trip measured yet");
  });

  it("is the rate at which slots free × the round-trip, rounded down, at most concurrency", () => {
    const target = new ReadyTarget(64);
    target.settled(1);
    freeSlots(target, 128, 0.25);
    assert.equal(target.value, 4, "4 frees a ms × 1 ms");
    const slow = new ReadyTarget(4);
    slow.settled(2);
    freeSlots(slow, 8, 1_000);
    assert.equal(slow.value, 0, "slots that free once a second get none");
    const fast = new ReadyTarget(4);
    fast.settled(2);
    freeSlots(fast, 8, 0.001);
    assert.equal(fast.value, 4, "capped at concurrency");
    const together = new ReadyTarget(4);
    together.settled(2);
    freeSlots(together, 8, 0);
    assert.equal(together.value, 4, "slots that free in the same instant get one each");
  });

  it("follows what the slots do now: the rate is over the last 2 × concurrency frees", () => {
    const target = new ReadyTarget(4);
    target.settled(10);
    let at = freeSlots(target, 8, 1);
    assert.equal(target.value, 4, "1 ms handlers, 10 ms round-trip");
    // Three slots stuck, one freeing every 20 ms: once the fast frees are out of the window,
    // it holds none (the ready claims would queue behind that one slot).
    at = freeSlots(target, 7, 20, at + 20);
    assert.ok(target.value < 4, "lower as slow frees come in");
    freeSlots(target, 1, 20, at);
    assert.equal(target.value, 0, "8 frees over 140 ms, × 10 ms = 0.5");
    const big = new ReadyTarget(1_000);
    big.settled(1);
    freeSlots(big, FREES_KEPT, 1);
    freeSlots(big, FREES_KEPT, 0.01, FREES_KEPT * 1);
    assert.equal(big.value, 100, `the window is at most ${FREES_KEPT} frees`);
  });

  it("holds none while the round-trip measures 0 (a clock that does not move)", () => {
    const target = new ReadyTarget(4);
    target.settled(0);
    freeSlots(target, 8, 0);
    assert.equal(target.value, 0);
  });

  it("takes the shortest of the last round-trips: one slow write does not raise it, an old fast one is forgotten", () => {
    const target = new ReadyTarget(100);
    freeSlots(target, 200, 0.125);
    target.settled(1);
    assert.equal(target.value, 8);
    target.settled(900); // written beside a checkpoint
    assert.equal(target.value, 8);
    // The store got slower: once the fast round-trip is no longer kept, the estimate follows.
    for (let i = 0; i < ROUND_TRIPS_KEPT - 2; i++) {
      target.settled(3);
      assert.equal(target.value, 8, `still the 1 ms round-trip after ${i + 1} slower writes`);
    }
    target.settled(3);
    assert.equal(target.value, 24, "the 1 ms round-trip is no longer kept");
  });
});
