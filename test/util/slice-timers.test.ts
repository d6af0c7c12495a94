/**
 * What a deterministic simulation needs of the slices, pinned without timing:
 * a queue opened with `SLICE_TIMERS` queues its turn window's timers-phase
 * closer through the stand-in it was given (not a 0 ms timer of the
 * process), and
 * `decodeSnapshot` never reads the process's clock.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OpenOptions } from "../../src/queue/options.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import type { State } from "../../src/queue/state.js";
import { SLICE_TIMERS, turnWindowOf } from "../../src/util/slices.js";
import { openTestQueue, turns } from "../queue/helpers.js";

const INSPECT_STATE = Symbol.for("taquba.inspectState");

describe("the slice seams of a deterministic simulation", () => {
  it("a window built with SLICE_TIMERS is closed at the timers phase by its stand-in", () => {
    const closers: (() => void)[] = [];
    const window = turnWindowOf({ [SLICE_TIMERS]: (close: () => void) => closers.push(close) });
    const first = window.generation;
    const deadline = window.deadline(0, 4);
    assert.equal(closers.length, 1, "the stand-in was not given the window's closer");
    // Open until the closer runs: a later slice shares the window's deadline.
    assert.equal(window.generation, first);
    assert.equal(window.deadline(1, 4), deadline);
    assert.equal(closers.length, 1);
    closers[0]!();
    assert.equal(window.generation, first + 1);
    window.deadline(2, 4);
    assert.equal(closers.length, 2);
  });

  it("a queue opened with SLICE_TIMERS builds its turn window with it", async () => {
    const closers: (() => void)[] = [];
    const { queue } = await openTestQueue({
      [SLICE_TIMERS]: (close: () => void) => closers.push(close),
    } as OpenOptions);
    await turns(); // the open's orphan pass runs in slices of the queue's window
    assert.ok(closers.length > 0, "the stand-in was never given the closer");
    await queue.close();
  });

  it("decodeSnapshot never reads the process's clock", async () => {
    const { queue } = await openTestQueue();
    for (let i = 0; i < 50; i++) await queue.enqueue("jobs", String(i));
    const state = (queue as unknown as Record<symbol, () => State>)[INSPECT_STATE]!();
    const bytes = encodeSnapshot(state);
    await queue.close();
    const now = performance.now;
    let reads = 0;
    performance.now = () => {
      reads++;
      return now.call(performance);
    };
    let decoded: State;
    try {
      decoded = decodeSnapshot(bytes);
    } finally {
      performance.now = now;
    }
    assert.equal(reads, 0);
    assert.equal(decoded.nextSeq, state.nextSeq);
  });
});
