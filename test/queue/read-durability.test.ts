/**
 * Reads never report state that a crash could still undo: a value or job
 * whose record is applied but not yet durable is answered only once that
 * record is durable (and never, when it fails to become durable).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { STORES } from "../jobs/stores.js";
import { settledSoon, walWritesAround } from "./held-wal.js";
import { turns } from "./helpers.js";

const WAL = /\/wal\//;

async function open(
  faults: FaultStore,
  failFast = false,
  clock = new ManualClock(1_700_000_000_000),
): Promise<Queue> {
  return Queue.open(faults, "q", {
    clock,
    logger: silentLogger,
    flushIntervalMs: 0,
    ...(failFast
      ? {
          log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 20 } },
        }
      : {}),
  });
}

for (const kind of STORES) {
  describe(`reads answer only durable state (${kind.name})`, { timeout: 60_000 }, () => {
    it("kvGet and kvScan wait for a put in flight, then return it", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults);
      await queue.kvPut("k", "one");
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const put = queue.kvPut("k", "two");
      await hold.whenHeld();
      const got = queue.kvGet("k");
      const scanned = queue.kvScan("");
      assert.equal(await settledSoon(got), false, "kvGet must wait for the put to be durable");
      assert.equal(await settledSoon(scanned), false, "kvScan must wait too");
      hold.release();
      await put;
      assert.equal(Buffer.from((await got)!).toString(), "two");
      assert.equal(Buffer.from((await scanned).entries[0]!.value).toString(), "two");
      await queue.close();
    });

    it("a put that never becomes durable is never read", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults, true);
      await queue.kvPut("k", "one");
      faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
      const put = queue.kvPut("k", "lost");
      put.catch(() => {});
      await turns(1); // the put is applied and its write under way (and failing)
      const got = queue.kvGet("k").then(
        (value) => `value ${value === null ? "null" : Buffer.from(value).toString()}`,
        (error: { code?: string }) => `rejected ${error.code}`,
      );
      await assert.rejects(put);
      assert.notEqual(await got, "value lost");
    });

    it("getJob waits for the enqueue and the settlement in flight", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults);
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const enqueued = queue.enqueue("q", "x");
      await hold.whenHeld();
      // The id is not known to the caller yet; a listing reads the same state.
      const listed = queue.listJobs("q", "pending");
      assert.equal(await settledSoon(listed), false, "listJobs must wait for the enqueue");
      hold.release();
      const id = await enqueued;
      assert.equal((await listed).jobs[0]?.id, id);
      const claim = (await queue.claim("q"))!;
      const second = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const acked = queue.ack(claim);
      await second.whenHeld();
      const job = queue.getJob(id);
      const history = queue.attemptHistory(id);
      assert.equal(await settledSoon(job), false, "getJob must wait for the ack");
      assert.equal(await settledSoon(history), false, "attemptHistory must wait for the ack");
      second.release();
      await acked;
      assert.equal(await job, null, "acked without keeping: gone");
      assert.deepEqual(await history, []);
      await queue.close();
    });

    it("cancel answers not_found for a job whose end is in flight only once that end is durable", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults, true);
      const id = await queue.enqueue("q", "x");
      const claim = (await queue.claim("q"))!;
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const acked = queue.ack(claim);
      await hold.whenHeld();
      const cancelled = queue.cancel(id);
      assert.equal(await settledSoon(cancelled), false, "cancel must wait for the ack");
      hold.release();
      await acked;
      assert.equal(await cancelled, "not_found");
      // A second cancel of a claimed job repeats "requested" once the first one's request is durable.
      const claimed = await queue.enqueue("q", "z");
      await queue.claim("q");
      const third = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const requested = queue.cancel(claimed);
      await third.whenHeld();
      const repeated = queue.cancel(claimed);
      assert.equal(
        await settledSoon(repeated),
        false,
        "a repeated cancel must wait for the request",
      );
      third.release();
      assert.deepEqual([await requested, await repeated], ["requested", "requested"]);
      // An end whose write fails is never the reason for a not_found.
      const other = await queue.enqueue("q", "y");
      const second = (await queue.claim("q"))!;
      faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
      const lost = queue.ack(second);
      lost.catch(() => {});
      const answer = queue.cancel(other).then(
        (outcome) => `outcome ${outcome}`,
        (error: { code?: string }) => `rejected ${error.code}`,
      );
      await assert.rejects(lost);
      assert.notEqual(await answer, "outcome not_found");
      await queue.close().catch(() => {}); // the log failed
    });

    it("removeJob's false and requeueDeadJob's refusal wait for the write in flight that caused them", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults, true);
      const id = await queue.enqueue("q", "x", { maxAttempts: 1 });
      const claim = (await queue.claim("q"))!;
      await queue.nack(claim, "failed");
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const removed = queue.removeJob(id);
      await hold.whenHeld();
      const again = queue.removeJob(id);
      const requeued = queue.requeueDeadJob(id).then(
        () => "requeued",
        (error: { code?: string }) => `rejected ${error.code}`,
      );
      assert.equal(await settledSoon(again), false, "removeJob must wait for the removal");
      assert.equal(await settledSoon(requeued), false, "requeueDeadJob must wait for the removal");
      hold.release();
      assert.equal(await removed, true);
      assert.equal(await again, false);
      assert.equal(await requeued, "rejected JOB_NOT_FOUND");
      await queue.close();
    });

    it("requeueDeadJob refuses a flow for a child's removal only once that removal is durable", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults, true);
      const flow = async () => {
        const enqueued = await queue.enqueueFlow({
          queue: "parent",
          payload: "P",
          children: [
            { queue: "a", payload: "A", options: { maxAttempts: 1 } },
            { queue: "b", payload: "B" },
          ],
        });
        await queue.nack((await queue.claim("a"))!, "failed"); // the parent goes dead too
        return enqueued.children.map((child) => child.id);
      };
      const [a, b] = await flow();
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const removed = queue.removeJob(b!);
      await hold.whenHeld();
      const refused = queue.requeueDeadJob(a!).then(
        () => "requeued",
        (error: { code?: string; removedChild?: string }) =>
          `rejected ${error.code} ${error.removedChild}`,
      );
      assert.equal(await settledSoon(refused), false, "must wait for the child's removal");
      hold.release();
      assert.equal(await removed, true);
      assert.equal(await refused, `rejected JOB_NOT_FOUND ${b}`);
      // A removal whose write fails is never the reason for the refusal.
      const [c, d] = await flow();
      faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
      const lost = queue.removeJob(d!);
      lost.catch(() => {});
      await turns(1); // the removal is applied and its write under way (and failing)
      const answer = queue.requeueDeadJob(c!).then(
        () => "requeued",
        (error: { code?: string }) => `rejected ${error.code}`,
      );
      await assert.rejects(lost);
      assert.equal(await answer, "rejected STORAGE");
      await queue.close().catch(() => {}); // the log failed
    });

    it("requeueDeadJobs' and removeJobs' 0, unschedule's false and wakeScheduled's refusals wait for the write in flight", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults);
      const dead = await queue.enqueue("q", "d", { maxAttempts: 1 });
      await queue.nack((await queue.claim("q"))!, "failed");
      const later = await queue.enqueue("q", "s", { delayMs: 60_000 });
      await queue.schedule("tick", { everyMs: 60_000, queue: "ticks", payload: "t" });
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const requeued = queue.requeueDeadJob(dead);
      const woken = queue.wakeScheduled(later);
      const unscheduled = queue.unschedule("tick");
      await hold.whenHeld();
      const none = queue.requeueDeadJobs("q");
      const noneRemoved = queue.removeJobs("q", "dead");
      const wokenAgain = queue.wakeScheduled(later);
      const unknown = queue.wakeScheduled("unknown");
      const unscheduledAgain = queue.unschedule("tick");
      assert.equal(await settledSoon(none), false, "requeueDeadJobs must wait for the requeue");
      assert.equal(await settledSoon(noneRemoved), false, "removeJobs must wait for the requeue");
      assert.equal(await settledSoon(wokenAgain), false, "wakeScheduled must wait for the wake");
      assert.equal(await settledSoon(unknown), false, "not_found must wait for what is in flight");
      assert.equal(
        await settledSoon(unscheduledAgain),
        false,
        "unschedule must wait for the removal",
      );
      hold.release();
      await requeued;
      assert.equal(await woken, "woken");
      assert.equal(await unscheduled, true);
      assert.deepEqual(
        [await none, await noneRemoved, await wokenAgain, await unknown, await unscheduledAgain],
        [0, 0, "not_scheduled", "not_found", false],
      );
      await queue.close();
    });

    it("promoteScheduledNow waits for a promotion its timer started", async () => {
      const faults = new FaultStore(await kind.make());
      const clock = new ManualClock(1_700_000_000_000);
      const queue = await open(faults, false, clock);
      await queue.enqueue("q", "later", { delayMs: 1_000 });
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      clock.advance(1_000); // the scheduler's timer promotes the job; its write is held
      await hold.whenHeld();
      const promoted = queue.promoteScheduledNow();
      assert.equal(await settledSoon(promoted), false, "must wait for the timer's promotion");
      hold.release();
      await promoted;
      assert.equal((await queue.stats("q")).pending, 1);
      await queue.close();
    });

    it("childResults and listSchedules wait for the write in flight; stats does not", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults);
      const flow = await queue.enqueueFlow({
        queue: "parents",
        payload: "p",
        children: [{ queue: "kids", payload: "c" }],
      });
      const child = (await queue.claim("kids"))!;
      const second = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const acked = queue.ack(child, { result: "done" });
      const scheduled = queue.schedule("tick", { everyMs: 60_000, queue: "ticks", payload: "t" });
      await second.whenHeld();
      // Counters answer at once, so monitoring works while writes are stuck.
      assert.equal(await settledSoon(queue.stats("kids")), true, "stats must not wait");
      const results = queue.childResults(flow.id);
      const schedules = queue.listSchedules();
      assert.equal(await settledSoon(results), false, "childResults must wait for the ack");
      assert.equal(await settledSoon(schedules), false, "listSchedules must wait for the schedule");
      second.release();
      await acked;
      await scheduled;
      const childId = flow.children[0]!.id;
      assert.equal(Buffer.from((await results)[childId]!).toString(), "done");
      assert.deepEqual(
        (await schedules).map((s) => s.name),
        ["tick"],
      );
      await queue.close();
    });
  });
}

/** Store writes of the 400 enqueues around `refuse`'s calls, a KV key set first (see {@link walWritesAround}). */
function writesWith(
  refuse: ((queue: Queue, i: number) => Promise<unknown>) | null,
): Promise<number> {
  return walWritesAround((queue) => queue.kvPut("k", "v"), refuse);
}

describe("refusals that wait for the log", { timeout: 60_000 }, () => {
  it("do not push out an open batch early: 40 refusals among 400 enqueues write no more", async () => {
    const baseline = await writesWith(null);
    const writes = await writesWith((queue, i) => {
      switch (Math.floor(i / 10) % 8) {
        case 0:
          return queue.cancel(`unknown-${i}`);
        case 1:
          return queue.removeJob(`unknown-${i}`);
        case 2:
          return queue.requeueDeadJob(`unknown-${i}`);
        case 3:
          return queue.transaction((tx) => tx.kvCheck("k", "other"));
        case 4:
          return queue.requeueDeadJobs("q");
        case 5:
          return queue.removeJobs("q", "dead");
        case 6:
          return queue.unschedule(`unknown-${i}`);
        default:
          return queue.wakeScheduled(`unknown-${i}`);
      }
    });
    assert.ok(baseline <= 8, `the baseline batches the enqueues (${baseline} writes)`);
    assert.equal(writes, baseline, `the refusals added store writes (${writes} for ${baseline})`);
  });
});
