import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import type { QueueEventMap } from "../../src/queue/events.js";
import type { RemovableStatus } from "../../src/queue/operations.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import {
  FAIL_FAST,
  memoryAndFileStores,
  mustClaim,
  openTestQueue,
  rejection,
  setSliceMs,
  turns,
  WAL,
} from "./helpers.js";

const STORES = memoryAndFileStores("taquba-events-removed-");

/** `true` when `A` and `B` are the same type. */
type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
// A compile-time check: `state` is one of the statuses a removal can see, not any status ("claimed").
const stateIsRemovable: Same<QueueEventMap["removed"]["state"], RemovableStatus> = true;

/** Done jobs are kept, a failure is final: every removable status can be reached. */
const KEEP: OpenOptions = { defaultQueueConfig: { keepDoneJobsMs: 60_000, maxAttempts: 1 } };

/** Every event but progress, as `"<name> <id>"`, plus the `removed` events themselves. */
function record(queue: Queue): { steps: string[]; removed: QueueEventMap["removed"][] } {
  const steps: string[] = [];
  const removed: QueueEventMap["removed"][] = [];
  for (const name of ["enqueued", "claimed", "completed", "dead", "cancelled"] as const)
    queue.on(name, (event) => {
      steps.push(`${name} ${event.id}`);
    });
  queue.on("removed", (event) => {
    steps.push(`removed ${event.id} ${event.state}`);
    removed.push(event);
  });
  return { steps, removed };
}

/** One job in each removable status of queue "q": pending, scheduled, done, dead. */
async function oneOfEach(queue: Queue, clock: ManualClock): Promise<Record<string, string>> {
  const done = await queue.enqueue("q", "done");
  await queue.ack(await mustClaim(queue, "q"));
  const dead = await queue.enqueue("q", "dead");
  await queue.nack(await mustClaim(queue, "q"), "boom");
  const pending = await queue.enqueue("q", "pending");
  const scheduled = await queue.enqueue("q", "scheduled", { runAt: clock.now() + 60_000 });
  return { pending, scheduled, done, dead };
}

for (const [storeName, makeStore] of STORES) {
  describe(`the removed event (${storeName})`, { timeout: 60_000 }, () => {
    it("removeJob emits one removed per job, with the status it had and the removal's time", async () => {
      assert.ok(stateIsRemovable);
      const clock = new ManualClock();
      const { queue } = await openTestQueue(KEEP, await makeStore(), clock);
      const jobs = await oneOfEach(queue, clock);
      const { removed } = record(queue);
      clock.advance(500);
      for (const state of ["pending", "scheduled", "done", "dead"])
        assert.equal(await queue.removeJob(jobs[state]!), true);
      assert.deepEqual(removed, [
        { id: jobs.pending, queue: "q", at: clock.now(), state: "pending" },
        { id: jobs.scheduled, queue: "q", at: clock.now(), state: "scheduled" },
        { id: jobs.done, queue: "q", at: clock.now(), state: "done" },
        { id: jobs.dead, queue: "q", at: clock.now(), state: "dead" },
      ]);
      // Nothing to remove, or a claimed job (cancelled instead): no event.
      assert.equal(await queue.removeJob(jobs.pending!), false);
      const claimed = await queue.enqueue("q", "claimed");
      await mustClaim(queue, "q");
      assert.equal(await queue.removeJob(claimed), false);
      await turns();
      assert.equal(removed.length, 4);
      await queue.close();
    });

    it("removeJobs emits one removed per job across its slices, in removal order", async () => {
      const clock = new ManualClock();
      const { queue } = await openTestQueue(KEEP, await makeStore(), clock);
      // More jobs than one commit of a bulk operation holds, one step per slice.
      const ids = await queue.enqueueBatch(
        "q",
        Array.from({ length: 700 }, (_, i) => `${i}`),
      );
      const other = await queue.enqueue("other", "stays");
      const last = await queue.enqueue("q", "last");
      setSliceMs(queue, 0);
      const { removed } = record(queue);
      const count = await queue.removeJobs("q", "pending");
      assert.equal(count, 701);
      // Told a bounded number per turn: possibly after the call resolved.
      await turns();
      assert.deepEqual(
        removed.map((e) => e.id),
        [...ids, last],
      );
      assert.ok(removed.every((e) => e.state === "pending" && e.queue === "q"));
      assert.equal(await queue.removeJobs("q", "pending"), 0);
      assert.equal(removed.length, 701);
      assert.ok(!removed.some((e) => e.id === other));
      await queue.close();
    });

    it("removeJobs of done and dead jobs says so in state", async () => {
      const clock = new ManualClock();
      const { queue } = await openTestQueue(KEEP, await makeStore(), clock);
      const jobs = await oneOfEach(queue, clock);
      const { removed } = record(queue);
      assert.equal(await queue.removeJobs("q", "dead"), 1);
      assert.equal(await queue.removeJobs("q", "done"), 1);
      assert.equal(await queue.removeJobs("q", "scheduled"), 1);
      assert.deepEqual(
        removed.map((e) => [e.id, e.state]),
        [
          [jobs.dead, "dead"],
          [jobs.done, "done"],
          [jobs.scheduled, "scheduled"],
        ],
      );
      await queue.close();
    });

    it("removing a flow's root emits removed for it and every open job below it; a claimed one is cancelled", async () => {
      const { queue } = await openTestQueue({}, await makeStore());
      const flow = await queue.enqueueFlow({
        queue: "notify",
        payload: "order",
        children: [
          { queue: "ship", payload: "order", children: [{ queue: "charge", payload: "order" }] },
          { queue: "invoice", payload: "order" },
        ],
      });
      const [ship, invoice] = flow.children;
      const charge = ship!.children[0]!;
      const { steps } = record(queue);
      assert.equal(await queue.removeJob(flow.id), true);
      // The root first (a waiting parent is scheduled), then its open children, depth first.
      assert.deepEqual(steps, [
        `removed ${flow.id} scheduled`,
        `removed ${ship!.id} scheduled`,
        `removed ${charge.id} pending`,
        `removed ${invoice!.id} pending`,
      ]);
      await queue.close();
    });

    it("a claimed child of a removed root is no removal: its end is a cancelled event", async () => {
      const { queue } = await openTestQueue({}, await makeStore());
      const flow = await queue.enqueueFlow({
        queue: "root",
        payload: "r",
        children: [
          { queue: "leaf", payload: "a" },
          { queue: "leaf", payload: "b" },
        ],
      });
      const claim = await mustClaim(queue, "leaf");
      const { steps } = record(queue);
      assert.equal(await queue.removeJob(flow.id), true);
      const other = flow.children.find((c) => c.id !== claim.id)!;
      assert.deepEqual(steps, [`removed ${flow.id} scheduled`, `removed ${other.id} pending`]);
      await queue.nack(claim, "stopped");
      assert.deepEqual(steps.slice(2), [`cancelled ${claim.id}`]);
      await queue.close();
    });

    it("a removed child's waiting parent goes dead after it, in the same commit; removeJobs too", async () => {
      const { queue } = await openTestQueue({}, await makeStore());
      const first = await queue.enqueueFlow({
        queue: "root",
        payload: "r",
        children: [{ queue: "leaf", payload: "a" }],
      });
      const second = await queue.enqueueFlow({
        queue: "root",
        payload: "r",
        children: [{ queue: "leaf", payload: "b" }],
      });
      const { steps } = record(queue);
      assert.equal(await queue.removeJob(first.children[0]!.id), true);
      assert.deepEqual(steps, [`removed ${first.children[0]!.id} pending`, `dead ${first.id}`]);
      assert.equal(await queue.removeJobs("leaf", "pending"), 1);
      assert.deepEqual(steps.slice(2), [
        `removed ${second.children[0]!.id} pending`,
        `dead ${second.id}`,
      ]);
      await queue.close();
    });
  });
}

describe("the removed event and durability", { timeout: 60_000 }, () => {
  it("is emitted only once the removal is durable, in call order with the calls of its log batch", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({}, store);
    const a = await queue.enqueue("q", "a");
    const b = await queue.enqueue("q", "b");
    const { steps } = record(queue);
    const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
    const removedA = queue.removeJob(a);
    await hold.whenHeld();
    // Removed in memory (gone from reads), not durable: nothing told yet.
    const enqueued = queue.enqueue("q", "c");
    const removedB = queue.removeJob(b);
    await turns();
    assert.deepEqual(steps, []);
    hold.release();
    assert.equal(await removedA, true);
    const c = await enqueued;
    assert.equal(await removedB, true);
    assert.deepEqual(steps, [`removed ${a} pending`, `enqueued ${c}`, `removed ${b} pending`]);
    await queue.close();
  });

  it("is never emitted for a removal whose write fails", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, store);
    const a = await queue.enqueue("q", "a");
    await queue.enqueue("q", "b");
    const { steps } = record(queue);
    store.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    assert.equal((await rejection(queue.removeJob(a))).code, "STORAGE");
    await turns();
    assert.deepEqual(steps, []);
  });

  it("is never emitted for a bulk removal whose write fails", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, store);
    await queue.enqueueBatch("q", ["a", "b", "c"]);
    const { steps } = record(queue);
    store.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    assert.equal((await rejection(queue.removeJobs("q", "pending"))).code, "STORAGE");
    await turns();
    assert.deepEqual(steps, []);
  });

  it("removeJobs runs ahead of durability with a listener too; its events come at most 1,000 per turn, in order", async () => {
    for (const listening of [true, false]) {
      const store = new FaultStore(new MemoryStore());
      const { queue } = await openTestQueue({}, store);
      const ids = await queue.enqueueBatch(
        "q",
        Array.from({ length: 20_000 }, (_, i) => `${i}`),
      );
      const told: string[] = [];
      let run = 0;
      let longestRun = 0;
      let armed = false;
      if (listening)
        queue.on("removed", (event) => {
          told.push(event.id);
          // A run of calls ends at the next microtask checkpoint: a turn holds no longer run.
          if (!armed) {
            armed = true;
            run = 0;
            queueMicrotask(() => {
              armed = false;
            });
          }
          longestRun = Math.max(longestRun, ++run);
        });
      const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
      const removing = queue.removeJobs("q", "pending");
      await hold.whenHeld();
      // Not held back by the listener: every slice is committed while the first write is held.
      for (let i = 0; i < 2_000 && (await queue.stats("q")).pending > 0; i++) await turns(1);
      assert.equal((await queue.stats("q")).pending, 0);
      hold.release();
      assert.equal(await removing, 20_000);
      for (let i = 0; i < 2_000 && told.length < (listening ? 20_000 : 0); i++) await turns(1);
      assert.deepEqual(told, listening ? ids : []);
      assert.ok(longestRun <= 1_000, `${longestRun} events in one turn`);
      await queue.close();
    }
  });

  it("a listener that throws or rejects is logged and breaks neither the removal nor other listeners", async () => {
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ logger });
    const [a, b] = await queue.enqueueBatch("q", ["a", "b"]);
    queue.on("removed", () => {
      throw new Error("listener bug");
    });
    queue.on("removed", async () => {
      throw new Error("async listener bug");
    });
    const seen: string[] = [];
    queue.on("removed", (event) => {
      seen.push(event.id);
    });
    assert.equal(await queue.removeJob(a!), true);
    assert.equal(await queue.removeJobs("q", "pending"), 1);
    await turns();
    assert.deepEqual(seen, [a, b]);
    assert.equal(await queue.getJob(a!), null);
    assert.equal((await queue.stats("q")).pending, 0);
    assert.deepEqual(logger.messages("error"), [
      `a "removed" listener failed on job ${a}: listener bug`,
      `a "removed" listener failed on job ${a}: async listener bug`,
      `a "removed" listener failed on job ${b}: listener bug`,
      `a "removed" listener failed on job ${b}: async listener bug`,
    ]);
    await queue.close();
  });
});
