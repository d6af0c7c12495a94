/**
 * The queue's work beside bulk work and checkpoints in one turn's window:
 * the orphan collection's and the scheduler's slices share it, and a
 * commit (one synchronous step) is charged to it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import type { Log } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import { CommitBoundary } from "../../src/queue/commit-boundary.js";
import { Observers } from "../../src/queue/observe.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { PayloadObjects } from "../../src/queue/payloads.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import { MemoryStore } from "../../src/store/memory.js";
import {
  type MonotonicNow,
  SLICE_CLOCK,
  SLICE_MS,
  SLICE_SHARE_MS,
  SliceBudget,
  TurnWindow,
} from "../../src/util/slices.js";
import { rival, slicesOf, steppingClock, worstTurn } from "../turns.js";
import { until } from "../until.js";
import { openTestQueue } from "./helpers.js";
import { ORPHAN_TEST_RETRY, putOldOrphans } from "./orphan-setup.js";

describe("the rest of a queue's work shares its turn window", { timeout: 120_000 }, () => {
  it("an orphan pass beside a bulk removal takes what the window leaves in a turn", async () => {
    // Half a millisecond a reading: the pass reads the clock every 256 objects.
    const step = 0.5;
    const slices = steppingClock(step);
    const window = new TurnWindow();
    const store = new MemoryStore();
    const clock = new ManualClock(1_700_000_000_000);
    const orphans = 20_000;
    await putOldOrphans(store, clock, orphans);
    const payloads = new PayloadObjects(store, "q", 10, {
      clock,
      logger: silentLogger,
      retry: ORPHAN_TEST_RETRY,
    });
    const left = async () => (await store.list("q/payload/")).objects.length;
    const worst = await worstTurn(
      slices,
      async () => {
        payloads.collectOrphansWhileRunning(
          new State(),
          clock,
          () => clock.now(),
          async () => {},
          slicesOf(slices.now, window),
        );
        await until(async () => (await left()) === 0, "the orphans deleted");
      },
      { fromTurn: 3, beside: () => rival(slices.now, window) },
    );
    payloads.stop(new Error("test over"));
    // The rival's slice, the pass's smallest share, and a reading each slice starts with; with a
    // budget of its own the pass would add a whole slice to the turn (9 ms here).
    const bound = SLICE_MS + SLICE_SHARE_MS + 2 * step;
    assert.ok(worst <= bound, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${bound})`);
  });

  it("the scheduler's fires beside a removal of many jobs share the window", async () => {
    const step = 0.05;
    const slices = steppingClock(step);
    const { queue, clock } = await openTestQueue({ [SLICE_CLOCK]: slices.now } as OpenOptions);
    const jobs = 40_000;
    for (let i = 0; i < jobs; i += 1_000)
      await queue.enqueueBatch(
        "q",
        Array.from({ length: 1_000 }, () => "x"),
      );
    const schedules = 3_000;
    for (let i = 0; i < schedules; i++)
      await queue.schedule(`s${i}`, { everyMs: 60_000, queue: "jobs", payload: "" });
    await queue.flush();
    let removed = 0;
    const worst = await worstTurn(
      slices,
      async () => {
        const removal = queue.removeJobs("q", "pending");
        // Every schedule comes due: its fires are committed in passes over many turns.
        clock.advance(60_000);
        removed = await removal;
        await until(
          async () => (await queue.stats("jobs")).pending === schedules,
          "every schedule fired",
        );
      },
      { fromTurn: 3 },
    );
    assert.equal(removed, jobs);
    // The removal's slice, the fires' smallest share, and the fires a pass commits before it
    // looks at its budget (a reading each); a budget of its own would add a whole slice.
    const bound = SLICE_MS + SLICE_SHARE_MS + 16 * step + 0.5;
    assert.ok(worst <= bound, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${bound})`);
    await queue.close();
  });

  it("listing schedules whose order must be sorted again, beside a removal, shares the window", async () => {
    // A reading every 512 names sorted and every 1,024 merged: 0.5 ms each makes the sort long.
    const step = 0.5;
    const slices = steppingClock(step);
    const { queue } = await openTestQueue({ [SLICE_CLOCK]: slices.now } as OpenOptions);
    const jobs = 20_000;
    for (let i = 0; i < jobs; i += 1_000)
      await queue.enqueueBatch(
        "q",
        Array.from({ length: 1_000 }, () => "x"),
      );
    const schedules = 20_000;
    const every = { everyMs: 60_000, queue: "jobs", payload: "" };
    for (let i = 0; i < schedules; i++) await queue.schedule(`s${i}`, every);
    await queue.flush();
    let listed = 0;
    const worst = await worstTurn(
      slices,
      async () => {
        const removal = queue.removeJobs("q", "pending");
        listed = (await queue.listSchedules()).length;
        await removal;
      },
      { fromTurn: 3 },
    );
    assert.equal(listed, schedules);
    // The sort runs on the queue's slice clock (a reading every 512 names sorted, every 1,024
    // merged), so on its window: one more schedule, and the names are sorted again.
    await queue.schedule("more", every);
    const before = slices.at;
    assert.equal((await queue.listSchedules()).length, schedules + 1);
    const readings = (slices.at - before) / step;
    assert.ok(readings >= schedules / 512, `the sort read the slice clock ${readings} times`);
    // The removal's slice, the sort's least share, a reading each slice starts with and the
    // overrun of a unit of each; a budget of its own would add a whole slice.
    const bound = SLICE_MS + SLICE_SHARE_MS + 4 * step;
    assert.ok(worst <= bound, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${bound})`);
    await queue.close();
  });

  it("a long commit is charged to the window: a slice after it in the same turn takes its least share", async () => {
    let at = 0;
    const now: MonotonicNow = () => at;
    const window = new TurnWindow();
    const state = new State();
    // A log whose append takes 15 ms of the slice clock (a flow of 10,000 jobs, applied and
    // appended in one step).
    let appendMs = 15;
    const log = {
      refusal: () => null,
      append: () => {
        at += appendMs;
        return Promise.resolve();
      },
    } as unknown as Log;
    const store = new MemoryStore();
    const payloads = new PayloadObjects(store, "q", 10, {
      clock: new ManualClock(),
      logger: silentLogger,
      retry: ORPHAN_TEST_RETRY,
    });
    const boundary = new CommitBoundary(
      state,
      log,
      new Observers(silentLogger),
      payloads,
      () => 0,
      () => {},
      { now, window },
    );
    // Sliced work under way beside the commits: in each turn, a slice that runs out of its time.
    const bulk = new SliceBudget(SLICE_MS, now, window);
    const given = async (): Promise<number> => {
      bulk.start();
      at += bulk.remainingMs();
      assert.equal(bulk.spent(), true);
      await new Promise((resolve) => setImmediate(resolve));
      await boundary.commit({ tag: Tag.PauseQueue, queue: "a", paused: true });
      const slice = new SliceBudget(SLICE_MS, now, window);
      slice.start();
      return slice.remainingMs();
    };
    assert.equal(await given(), SLICE_SHARE_MS, "after a commit of 15 ms");
    appendMs = 2.5;
    assert.equal(await given(), SLICE_MS - 2.5, "what a commit of 2.5 ms left of the window");
    appendMs = 0.1;
    assert.equal(await given(), SLICE_MS, "a short commit opens no window");
  });
});
