/**
 * The queue's own wiring of its turn window, through `Queue.open`: a commit
 * is charged to the window its removal's slices take, and the orphan
 * collection and the scheduler's planning at open take their shares of it.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { SLICE_CLOCK, SLICE_MS, SLICE_SHARE_MS } from "../../src/util/slices.js";
import { steppingClock, worstTurn } from "../turns.js";
import { until } from "../until.js";
import { openTestQueue, turns } from "./helpers.js";
import { putOldOrphans } from "./orphan-setup.js";

/** Enqueues `jobs` jobs on queue `q`, in batches of 1,000, and waits until they are durable. */
async function fill(queue: Queue, jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i += 1_000)
    await queue.enqueueBatch(
      "q",
      Array.from({ length: 1_000 }, () => "x"),
    );
  await queue.flush();
}

/** Busy for `ms` of the process's time (the next loop iteration's timers come due meanwhile). */
function busy(ms: number): void {
  const from = performance.now();
  while (performance.now() - from < ms);
}

describe("a queue's turn window, wired at open", { timeout: 120_000 }, () => {
  it("a long commit from a timer while jobs are removed leaves the removal its least share in that turn", async () => {
    const slices = steppingClock(0.05);
    const { queue } = await openTestQueue({ [SLICE_CLOCK]: slices.now } as OpenOptions);
    const jobs = 40_000;
    await fill(queue, jobs);
    const removal = queue.removeJobs("q", "pending");
    // The removal's slices run out of their time in a few turns' windows.
    await turns(3);
    const { commitReads, after } = await new Promise<{ commitReads: number; after: number }>(
      (resolve, reject) => {
        setImmediate(() => {
          // Due 2 ms after this turn's window opened (its closing timer is due at 1 ms): the
          // busy wait makes both due in the next timers phase, the window's closer first.
          setTimeout(() => {
            try {
              // A commit of 10 ms of the slice clock (a flow of 10,000 jobs, say): its two
              // readings are 10 ms apart.
              const reads = slices.reads;
              slices.step = 10;
              const enqueued = queue.enqueue("other", "x");
              slices.step = 0.05;
              const commitReads = slices.reads - reads;
              enqueued.catch(reject);
              const from = slices.at;
              // Queued after the slices' continuations: runs once they had their turn.
              setImmediate(() => resolve({ commitReads, after: slices.at - from }));
            } catch (error) {
              reject(error);
            }
          }, 2);
          busy(3);
        });
      },
    );
    assert.equal(await removal, jobs);
    // The removal's least share, and the readings and overrun of a unit of the slices that ran
    // then; in a window of its own, the removal's slice would run SLICE_MS.
    const bound = SLICE_SHARE_MS + 0.5;
    assert.ok(
      after <= bound,
      `the slices after the commit ran ${after.toFixed(2)} ms (at most ${bound})`,
    );
    assert.equal(commitReads, 2, "the commit, while the removal ran, read the slice clock twice");
    await queue.close();
  });
  it("the orphan collection at open takes its share of the window beside a removal", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(1_700_000_000_000);
    const first = await openTestQueue({}, store, clock);
    const jobs = 5_000;
    await fill(first.queue, jobs);
    await first.queue.close();
    const orphans = 50_000;
    await putOldOrphans(store, clock, orphans);
    // A reading every 256 objects: 0.25 ms each makes the pass run over many turns.
    const step = 0.25;
    const slices = steppingClock(step);
    const left = async () => (await store.list("q/payload/")).objects.length;
    // Replay and restore at open keep budgets of their own: counted from the open on.
    const { queue } = await openTestQueue(
      { [SLICE_CLOCK]: slices.now } as OpenOptions,
      store,
      clock,
    );
    let leftAfterRemoval = 0;
    const worst = await worstTurn(
      slices,
      async () => {
        assert.equal(await queue.removeJobs("q", "pending"), jobs);
        leftAfterRemoval = await left();
        await until(async () => (await left()) === 0, "the orphans deleted");
      },
      { fromTurn: 3 },
    );
    assert.ok(leftAfterRemoval > 0, "the orphan pass still ran when the removal ended");
    // The removal's slice, the pass's least share, a reading each slice starts with and the
    // overrun of a unit of each; a budget of its own would add a whole slice.
    const bound = SLICE_MS + SLICE_SHARE_MS + 4 * step;
    assert.ok(worst <= bound, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${bound})`);
    await queue.close();
  });

  it("planning the schedules at open takes its share of the window beside a removal", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const first = await openTestQueue({}, store, clock);
    const jobs = 20_000;
    await fill(first.queue, jobs);
    const schedules = 5_000;
    for (let i = 0; i < schedules; i++)
      await first.queue.schedule(`s${i}`, { everyMs: 60_000, queue: "jobs", payload: "" });
    await first.queue.close();
    const step = 0.05;
    const slices = steppingClock(step);
    const { queue } = await openTestQueue(
      { [SLICE_CLOCK]: slices.now } as OpenOptions,
      store,
      clock,
    );
    const planningReads = slices.reads;
    const worst = await worstTurn(
      slices,
      async () => {
        assert.equal(await queue.removeJobs("q", "pending"), jobs);
      },
      { fromTurn: 3 },
    );
    assert.ok(slices.reads > planningReads, "planning ran");
    // The removal's slice, planning's least share, a reading each slice starts with and the
    // overrun of a unit of each; a budget of its own would add a whole slice.
    const bound = SLICE_MS + SLICE_SHARE_MS + 4 * step + 0.5;
    assert.ok(worst <= bound, `a turn ran ${worst.toFixed(2)} ms of slices (at most ${bound})`);
    assert.equal((await queue.listSchedules()).length, schedules);
    await queue.close();
  });
});
