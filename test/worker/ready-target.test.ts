import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  FREES_KEPT,
  ReadyTarget,
  ROUND_TRIPS_KEPT,
  STALE_AFTER,
} from "../../src/worker/ready-target.js";

/** `count` slot frees `everyMs` apart, starting at `from`; returns the time of the last. */
function freeSlots(target: ReadyTarget, count: number, everyMs: number, from = 0): number {
  let at = from;
  for (let i = 0; i < count; i++) {
    if (i > 0) at += everyMs;
    target.slotFreed(at);
  }
  return at;
}

describe("ReadyTarget", () => {
  it("holds none until a round-trip and two slot frees were measured", () => {
    const target = new ReadyTarget(8);
    assert.equal(target.valueAt(10), 0);
    target.settled(2);
    assert.equal(target.valueAt(10), 0, "no slot freed yet");
    target.slotFreed(10);
    assert.equal(target.valueAt(10), 0, "one free is no rate");
    target.slotFreed(10.5);
    assert.equal(target.valueAt(10.5), 4, "one free every 0.5 ms × a 2 ms round-trip");
    const other = new ReadyTarget(8);
    const last = freeSlots(other, 10, 0.125);
    assert.equal(other.valueAt(last), 0, "no round-trip measured yet");
  });

  it("is the rate at which slots free × the round-trip, rounded down, at most concurrency", () => {
    const target = new ReadyTarget(64);
    target.settled(1);
    assert.equal(target.valueAt(freeSlots(target, 128, 0.25)), 4, "4 frees a ms × 1 ms");
    const slow = new ReadyTarget(4);
    slow.settled(2);
    assert.equal(slow.valueAt(freeSlots(slow, 8, 1_000)), 0, "one free a second gets none");
    const fast = new ReadyTarget(4);
    fast.settled(2);
    assert.equal(fast.valueAt(freeSlots(fast, 8, 0.001)), 4, "capped at concurrency");
    const together = new ReadyTarget(4);
    together.settled(2);
    assert.equal(
      together.valueAt(freeSlots(together, 8, 0, 5)),
      4,
      "slots that free in the same instant get one each",
    );
  });

  it("follows what the slots do now: the last 2 × concurrency frees, forgotten after a quiet spell", () => {
    const target = new ReadyTarget(4);
    target.settled(10);
    let last = freeSlots(target, 8, 1);
    assert.equal(target.valueAt(last), 4, "1 ms handlers, 10 ms round-trip");
    assert.equal(target.valueAt(last + 40), 4, `no free for ${STALE_AFTER} round-trips yet`);
    assert.equal(target.valueAt(last + 41), 0, "slots that stopped freeing get none");
    // Three slots stuck, one freeing every 20 ms: once the fast frees are out of the window,
    // it holds none (ready claims would queue behind that one slot).
    last = freeSlots(target, 8, 20, last + 20);
    assert.equal(target.valueAt(last), 0, "7 frees in 140 ms × 10 ms");
    const big = new ReadyTarget(1_000);
    big.settled(1);
    const start = freeSlots(big, FREES_KEPT, 1);
    assert.equal(
      big.valueAt(freeSlots(big, FREES_KEPT, 0.125, start + 0.125)),
      8,
      `the window is at most ${FREES_KEPT} frees`,
    );
  });

  it("holds none while the round-trip measures 0 (a clock that does not move), or the clock went back", () => {
    const target = new ReadyTarget(4);
    target.settled(0);
    assert.equal(target.valueAt(freeSlots(target, 8, 0)), 0);
    const back = new ReadyTarget(4);
    back.settled(1);
    freeSlots(back, 8, 1, 100);
    assert.equal(back.valueAt(50), 0, "now before the frees");
    assert.equal(back.valueAt(Number.NaN), 0);
    const frees = new ReadyTarget(1);
    frees.settled(1);
    frees.slotFreed(10);
    frees.slotFreed(9);
    assert.equal(frees.valueAt(10), 0, "frees that went back");
  });

  it("takes the shortest of the last round-trips: one slow write does not raise it, an old fast one is forgotten", () => {
    const target = new ReadyTarget(100);
    const last = freeSlots(target, 200, 0.125);
    target.settled(1);
    assert.equal(target.valueAt(last), 8, "199 frees in 24.875 ms, × 1 ms");
    target.settled(900); // written beside a checkpoint
    assert.equal(target.valueAt(last), 8);
    // The store got slower: once the fast round-trip is no longer kept, the estimate follows.
    for (let i = 0; i < ROUND_TRIPS_KEPT - 2; i++) {
      target.settled(3);
      assert.equal(
        target.valueAt(last),
        8,
        `still the 1 ms round-trip after ${i + 1} slower writes`,
      );
    }
    target.settled(3);
    assert.equal(target.valueAt(last), 24, "the 1 ms round-trip is no longer kept");
  });
});
