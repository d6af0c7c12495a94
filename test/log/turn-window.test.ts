import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import {
  type MonotonicNow,
  SLICE_MS,
  SLICE_SHARE_MS,
  SliceBudget,
  TurnWindow,
} from "../../src/util/slices.js";
import { rival, steppingClock, turnCounter } from "../turns.js";
import { rec, testOptions } from "./helpers.js";

/**
 * The most the slice clock moved between two turns of the event loop while
 * `work` ran beside a {@link rival} on `window`. The turns are counted first
 * in each check phase (the counter is queued before the rival and the work),
 * so two counts are one loop iteration apart. From the third turn: the
 * work's first slices start outside a check phase (in the test's own flow),
 * in a window of their own.
 */
async function worstTurn(
  clock: { readonly at: number; readonly now: MonotonicNow },
  window: TurnWindow,
  work: () => Promise<unknown>,
): Promise<number> {
  let last = clock.at;
  let worst = 0;
  let turns = 0;
  const counter = turnCounter(() => {
    if (++turns > 2) worst = Math.max(worst, clock.at - last);
    last = clock.at;
  });
  const stop = rival(clock.now, window);
  try {
    await work();
  } finally {
    counter.stop();
    stop();
  }
  return worst;
}

// One slice of the rival's, the smallest share of the log's work, and a reading's overrun:
// with a budget of its own the log's slice would add a whole slice to the turn.
const BOUND = SLICE_MS + SLICE_SHARE_MS + 0.5;

describe("the log's slices share the owner's turn window", { timeout: 60_000 }, () => {
  it("the checkpoint's checksum takes what the window leaves in a turn", async () => {
    const clock = steppingClock(0.05);
    const window = new TurnWindow();
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions({ checkpointWalBatches: 1_000_000 }), {
      sliceNow: clock.now,
      turnWindow: window,
    });
    // 256 pieces of 64 KiB to checksum: 12.8 ms on the slice clock, several slices.
    const snapshot = new Uint8Array(16 * 1024 * 1024);
    log.setSnapshotSource(() => snapshot);
    await log.append(rec("r"));
    const worst = await worstTurn(clock, window, () => log.checkpoint());
    assert.ok(worst <= BOUND, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${BOUND})`);
    await log.close();
  });

  it("the GC pass takes what the window leaves in a turn", async () => {
    const clock = steppingClock(0.05);
    const window = new TurnWindow();
    const store = new MemoryStore();
    const { log } = await openLog(
      store,
      "q",
      testOptions({ gcMinAgeMs: 0, checkpointWalBatches: 1_000_000 }),
      { sliceNow: clock.now, turnWindow: window },
    );
    log.setSnapshotSource(() => rec("snapshot"));
    // A reading of the slice clock per delete: 80 deletes fill a slice.
    const batches = 1_000;
    for (let i = 0; i < batches; i++) {
      const written = log.append(rec(`r${i}`));
      await log.flush();
      await written;
    }
    const worst = await worstTurn(clock, window, () => log.checkpoint());
    const left = (await store.list("q/wal/")).objects.length;
    assert.ok(left < 5, `the pass deleted the WAL it covers (${left} left)`);
    assert.ok(worst <= BOUND, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${BOUND})`);
    await log.close();
  });
});
