/**
 * The length of a slice of the queue's work (`setSliceMs`: tests shorten it
 * to force the smallest steps) holds for the scheduler's fires and the
 * orphan collection as for bulk operations: at 0 ms they yield a turn at
 * every check of their budget, not after their share of the turn window.
 * The slice clock here never moves, so only the slice's length can end one.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { ORPHAN_MIN_AGE_MS, ORPHAN_PASS_SPACING_MS } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { FIRES_BEFORE_BUDGET } from "../../src/queue/schedules/runner.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { SLICE_CLOCK } from "../../src/util/slices.js";
import { recordingLogger } from "../recording-logger.js";
import { openTestQueue, setSliceMs } from "./helpers.js";
import {
  enqueueWhosePutFailsAfterItStores,
  orphanTestOptions,
  putOldOrphans,
} from "./orphan-setup.js";

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** A slice clock that never moves: a slice ends only if it is 0 ms long. */
const still = { [SLICE_CLOCK]: () => 0 } as OpenOptions;

describe("the scheduler and the orphan collection take the queue's slice length", () => {
  for (const sliceMs of [0, 4]) {
    it(`due fires in one turn with slices of ${sliceMs} ms`, async () => {
      const { queue, clock } = await openTestQueue(still);
      const schedules = 100;
      for (let i = 0; i < schedules; i++)
        await queue.schedule(`s${i}`, { everyMs: 60_000, queue: "jobs", payload: "" });
      await queue.flush();
      setSliceMs(queue, sliceMs);
      // The pass starts from the clock's timer and continues in the next turn.
      clock.advance(60_000);
      const firstTurn = (await queue.stats("jobs")).pending;
      assert.equal(firstTurn, sliceMs === 0 ? FIRES_BEFORE_BUDGET : schedules);
      for (let i = 0; i < 20; i++) await turn();
      assert.equal((await queue.stats("jobs")).pending, schedules);
      await queue.close();
    });

    it(`an orphan pass over 3,000 objects with slices of ${sliceMs} ms`, async () => {
      const inner = new MemoryStore();
      const faults = new FaultStore(inner);
      const clock = new ManualClock(1_700_000_000_000);
      const queue = await Queue.open(faults, "q", {
        ...orphanTestOptions(clock, recordingLogger()),
        ...still,
      });
      for (let i = 0; i < 5; i++) await turn(); // the open's pass, over an empty folder
      setSliceMs(queue, sliceMs);
      // A write that failed after it stored its object: a reason for a later pass.
      await enqueueWhosePutFailsAfterItStores(faults, queue);
      await putOldOrphans(inner, clock, 3_000);
      const left = async () => (await inner.list("q/payload/")).objects.length;
      clock.advance(ORPHAN_MIN_AGE_MS + ORPHAN_PASS_SPACING_MS);
      let turns = 0;
      while ((await left()) > 0) {
        await turn();
        assert.ok(++turns < 1_000, `the pass left ${await left()} objects`);
      }
      // It checks its budget every 256 objects it looks at (and at each page of the listing).
      if (sliceMs === 0) assert.ok(turns >= 3_000 / 256, `the pass took ${turns} turns`);
      else assert.ok(turns <= 3, `the pass took ${turns} turns`);
      await queue.close();
    });
  }
});
