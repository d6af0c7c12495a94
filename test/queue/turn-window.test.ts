import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OpenOptions } from "../../src/queue/options.js";
import { SLICE_CLOCK, SLICE_MS, SLICE_SHARE_MS } from "../../src/util/slices.js";
import { timersTicker, turnCounter } from "../turns.js";
import { openTestQueue } from "./helpers.js";

/**
 * A slice clock that moves on by `step` ms at every reading: how much of a
 * slice's time work takes is the number of times it looks at the clock, so
 * the test does not depend on the machine's speed or load.
 */
function countingClock(step: number): { now: () => number; readonly at: number } {
  let at = 0;
  return {
    now: () => (at += step),
    get at() {
      return at;
    },
  };
}

describe("bulk work and checkpoints in the same turn share one slice", { timeout: 120_000 }, () => {
  it("a removal of many jobs while checkpoints are encoded runs at most one slice per turn, and both finish", async () => {
    const clock = countingClock(0.05);
    const { queue } = await openTestQueue({
      [SLICE_CLOCK]: clock.now,
      // A checkpoint every few batches: they are encoded while the removal runs.
      log: { checkpointWalBatches: 4 },
    } as OpenOptions);
    const jobs = 40_000;
    for (let i = 0; i < jobs; i += 1_000)
      await queue.enqueueBatch(
        "q",
        Array.from({ length: 1_000 }, () => "x"),
      );
    await queue.flush();
    const checkpointsBefore = queue.logStats().checkpointsWritten;
    // The slice clock's advance between two turns the counters see, in a check phase or in a
    // timers phase: all the work of one turn. A window opened in a check phase closes at the
    // next timers phase once a millisecond passed (its timer was queued after the timers
    // counter's), so work that resumes after it there, or in the poll phase, gets a window of
    // its own: the host's timers ran between the two (on a slow or loaded machine, counted from
    // check phase to check phase, the removal's slice and a checkpoint's made one "turn").
    let last = clock.at;
    let worst = 0;
    const seen = (): void => {
      worst = Math.max(worst, clock.at - last);
      last = clock.at;
    };
    const counter = turnCounter(seen);
    const ticker = timersTicker(seen);
    let removed: number;
    try {
      removed = await queue.removeJobs("q", "pending");
      await queue.flush();
    } finally {
      counter.stop();
      ticker.stop();
    }
    assert.equal(removed, jobs);
    assert.ok(
      queue.logStats().checkpointsWritten > checkpointsBefore,
      "checkpoints were written while the removal ran",
    );
    // One slice, plus the smallest share of the two other pieces of work that may resume in the
    // same turn (encoding or checksumming a checkpoint, its GC pass), plus a unit's overrun;
    // a budget each would allow a slice each (7.3 ms here before they shared one).
    const bound = SLICE_MS + 2 * SLICE_SHARE_MS + 0.5;
    assert.ok(worst <= bound, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${bound})`);
    assert.equal((await queue.stats("q")).pending, 0);
    await queue.close();
  });
});
