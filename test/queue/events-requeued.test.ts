import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import type { QueueEventMap } from "../../src/queue/events.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { mustClaim, openTestQueue, turns } from "./helpers.js";

/** A failure is final: a nack makes a job dead. */
const ONE_ATTEMPT: OpenOptions = { defaultQueueConfig: { maxAttempts: 1 } };

/** The requeued and woken events, and the other steps, as `"<name> <id>"`. */
function record(queue: Queue): { steps: string[]; events: QueueEventMap["requeued"][] } {
  const steps: string[] = [];
  const events: QueueEventMap["requeued"][] = [];
  for (const name of ["enqueued", "dead", "removed"] as const)
    queue.on(name, (event) => {
      steps.push(`${name} ${event.id}`);
    });
  for (const name of ["requeued", "woken"] as const)
    queue.on(name, (event) => {
      steps.push(`${name} ${event.id}`);
      events.push(event);
    });
  return { steps, events };
}

/** `count` dead jobs in queue "q", oldest first. */
async function deadJobs(queue: Queue, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(await queue.enqueue("q", `job ${i}`));
    await queue.nack(await mustClaim(queue, "q"), "boom");
  }
  return ids;
}

describe("the requeued and woken events", { timeout: 60_000 }, () => {
  it("requeueDeadJob and requeueDeadJobs emit requeued for each job, with its id, queue and the time", async () => {
    const clock = new ManualClock();
    const { queue } = await openTestQueue(ONE_ATTEMPT, new MemoryStore(), clock);
    const [a, b, c] = await deadJobs(queue, 3);
    const { steps, events } = record(queue);
    clock.advance(500);
    await queue.requeueDeadJob(a!);
    assert.deepEqual(events, [{ id: a, queue: "q", at: clock.now() }]);
    clock.advance(500);
    assert.equal(await queue.requeueDeadJobs("q"), 2);
    await turns();
    assert.deepEqual(steps, [`requeued ${a}`, `requeued ${b}`, `requeued ${c}`]);
    assert.deepEqual(events.slice(1), [
      { id: b, queue: "q", at: clock.now() },
      { id: c, queue: "q", at: clock.now() },
    ]);
    assert.equal((await queue.stats("q")).pending, 3);
    await queue.close();
  });

  it("a dead flow's requeue emits requeued for every dead job it brings back, parent first", async () => {
    const { queue } = await openTestQueue(ONE_ATTEMPT);
    const flow = await queue.enqueueFlow({
      queue: "root",
      payload: "r",
      children: [{ queue: "leaf", payload: "a" }],
    });
    const child = flow.children[0]!.id;
    const { steps } = record(queue);
    await queue.nack(await mustClaim(queue, "leaf"), "boom"); // the waiting parent goes dead with it
    assert.deepEqual(steps, [`dead ${child}`, `dead ${flow.id}`]);
    // Requeueing the child requeues the flow from its topmost dead job.
    await queue.requeueDeadJob(child);
    assert.deepEqual(steps.slice(2), [`requeued ${flow.id}`, `requeued ${child}`]);
    assert.equal((await queue.getJob(child))?.status, "pending");
    await queue.close();
  });

  it("wakeScheduled emits woken; a call that changes nothing emits nothing", async () => {
    const clock = new ManualClock();
    const { queue } = await openTestQueue({}, new MemoryStore(), clock);
    const later = await queue.enqueue("q", "later", { runAt: clock.now() + 60_000 });
    const now = await queue.enqueue("q", "now");
    const { steps, events } = record(queue);
    clock.advance(100);
    assert.equal(await queue.wakeScheduled(later), "woken");
    assert.deepEqual(events, [{ id: later, queue: "q", at: clock.now() }]);
    assert.equal(await queue.wakeScheduled(now), "not_scheduled");
    await assert.rejects(queue.requeueDeadJob(now), { code: "JOB_NOT_FOUND" });
    await turns();
    assert.deepEqual(steps, [`woken ${later}`]);
    await queue.close();
  });

  it("requeued is emitted only once the requeue is durable", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(ONE_ATTEMPT, store);
    const [a] = await deadJobs(queue, 1);
    const { steps } = record(queue);
    const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
    const requeued = queue.requeueDeadJob(a!);
    await hold.whenHeld();
    await turns();
    assert.deepEqual(steps, []);
    hold.release();
    await requeued;
    assert.deepEqual(steps, [`requeued ${a}`]);
    await queue.close();
  });
});
