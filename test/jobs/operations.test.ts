import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { BULK_STEP_MIN } from "../../src/queue/operations.js";
import type { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { rejection, setSliceMs } from "../queue/helpers.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir, text, turns } from "./stores.js";

/** Make `count` dead jobs in `queue` (one attempt each), returning their ids in id order. */
async function deadJobs(queue: Queue, name: string, count: number): Promise<string[]> {
  const ids = await queue.enqueueBatch(
    name,
    Array.from({ length: count }, (_, i) => `dead ${i}`),
  );
  for (let left = count; left > 0; ) {
    const claims = await queue.claimBatch(name, Math.min(left, 1_000));
    await Promise.all(claims.map((claim) => queue.deadLetter(claim, "broken")));
    left -= claims.length;
  }
  return ids;
}

for (const kind of STORES) {
  describe(`wakeScheduled on ${kind.name}`, { timeout: 60_000 }, () => {
    it("makes one scheduled job pending now; says so for others and unknown ids", async () => {
      const opened = await openOn(kind);
      const { queue, clock } = opened;
      const id = await queue.enqueue("q", "later", { runAt: clock.now() + 3_600_000 });
      const other = await queue.enqueue("q", "other", { runAt: clock.now() + 3_600_000 });
      const waiting = queue.claim("q", { waitMs: 10_000 });
      assert.equal(await queue.wakeScheduled(id), "woken");
      assert.equal((await waiting)?.id, id, "a waiting claim gets the woken job");
      assert.equal(await queue.wakeScheduled(id), "not_scheduled");
      assert.equal(await queue.wakeScheduled("01ARZ3NDEKTSV4RRFFQ69G5FAV"), "not_found");
      assert.equal(await queue.wakeScheduled("no such job"), "not_found");
      assert.equal((await rejection(queue.wakeScheduled(5 as never))).code, "INVALID_ARGUMENT");
      await queue.close();
      const again = await opened.reopen();
      assert.equal((await again.getJob(other))?.status, "scheduled");
      const woken = await again.getJob(id);
      assert.equal(woken?.status, "pending", "the interrupted claim was requeued");
      assert.equal(woken?.attempts, 1);
      await again.close();
    });
  });

  describe(`pauseQueue / resumeQueue on ${kind.name}`, { timeout: 60_000 }, () => {
    it("a paused queue hands out nothing, takes enqueues, and wakes its waiters on resume", async () => {
      const { queue, clock } = await openOn(kind);
      await queue.enqueue("q", "before");
      await queue.pauseQueue("q");
      assert.equal((await queue.stats("q")).paused, true);
      assert.equal((await queue.stats("other")).paused, false);
      assert.equal(await queue.claim("q"), null);
      assert.deepEqual(await queue.claimBatch("q", 5), []);
      await queue.enqueue("q", "during");
      assert.equal((await queue.stats("q")).pending, 2);
      const waiting = queue.claimBatch("q", 5, { waitMs: 10_000 });
      await turns();
      await queue.resumeQueue("q");
      assert.deepEqual(
        (await waiting).map((c) => text(c.payload)),
        ["before", "during"],
      );
      assert.equal((await queue.stats("q")).paused, false);
      // Other queues are not affected.
      await queue.pauseQueue("q");
      await queue.enqueue("free", "x");
      assert.notEqual(await queue.claim("free"), null);
      clock.advance(1);
      await queue.close();
    });

    it("a settled claim of a paused queue still settles; pausing twice writes once", async () => {
      const store = new CountingStore(new MemoryStore());
      const { queue } = await openOn({ name: "counting", make: async () => store });
      await queue.enqueue("q", "x");
      const claim = await queue.claim("q");
      await queue.pauseQueue("q");
      await queue.ack(claim!);
      const puts = store.snapshot().counts.put;
      await queue.pauseQueue("q");
      await queue.flush();
      assert.equal(store.snapshot().counts.put, puts, "the second pause wrote nothing");
      await queue.close();
    });

    it("stays paused across close and reopen, and QueueReader sees it", async () => {
      const opened = await openOn(kind);
      await opened.queue.enqueue("q", "x");
      await opened.queue.pauseQueue("q");
      await opened.queue.close();
      const reader = await QueueReader.open(opened.store, "q");
      assert.equal(reader.stats("q").paused, true);
      let queue = await opened.reopen();
      assert.equal((await queue.stats("q")).paused, true);
      assert.equal(await queue.claim("q"), null);
      await queue.resumeQueue("q");
      await queue.close();
      queue = await opened.reopen();
      assert.equal((await queue.stats("q")).paused, false);
      assert.notEqual(await queue.claim("q"), null);
      await queue.close();
    });

    it("a queue name is checked", async () => {
      const { queue } = await openOn(kind);
      for (const bad of ["", 7, "x".repeat(300)]) {
        const error = await rejection(queue.pauseQueue(bad as string));
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, /^Expected `queue`/);
      }
      assert.deepEqual(await queue.listQueues(), []);
      await queue.close();
    });
  });

  describe(`removeJobs on ${kind.name}`, { timeout: 60_000 }, () => {
    it("removes the jobs of one status, or only those older than olderThanMs", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { keepDoneJobsMs: 3_600_000 },
      });
      const old = await queue.enqueueBatch("q", ["p1", "p2"]);
      const oldScheduled = await queue.enqueue("q", "s1", { runAt: clock.now() + 60_000 });
      clock.advance(10_000);
      const young = await queue.enqueue("q", "p3");
      await queue.enqueue("q", "s2", { runAt: clock.now() + 60_000 });
      await queue.enqueue("other", "keep me");
      assert.equal(await queue.removeJobs("q", "pending", { olderThanMs: 5_000 }), 2);
      for (const id of old) assert.equal(await queue.getJob(id), null);
      assert.equal((await queue.getJob(young))?.status, "pending");
      assert.equal(await queue.removeJobs("q", "scheduled", { olderThanMs: 5_000 }), 1);
      assert.equal(await queue.getJob(oldScheduled), null);
      assert.equal((await queue.stats("q")).scheduled, 1);
      assert.equal(await queue.removeJobs("q", "scheduled"), 1);
      // Done jobs by completion time, dead jobs by failure time.
      const [c1] = await queue.claimBatch("q", 1);
      await queue.ack(c1!);
      clock.advance(10_000);
      await queue.enqueue("q", "d");
      const c2 = await queue.claim("q");
      await queue.ack(c2!);
      assert.equal(await queue.removeJobs("q", "done", { olderThanMs: 5_000 }), 1);
      assert.equal((await queue.listJobs("q", "done")).jobs.length, 1);
      assert.equal(await queue.removeJobs("q", "done"), 1);
      await deadJobs(queue, "q", 3);
      assert.equal(await queue.removeJobs("q", "dead", { olderThanMs: 1 }), 0);
      clock.advance(1);
      assert.equal(await queue.removeJobs("q", "dead", { olderThanMs: 1 }), 3);
      assert.equal((await queue.stats("other")).pending, 1);
      assert.equal(await queue.removeJobs("nobody", "pending"), 0);
      await queue.close();
    });

    it("removes thousands in bounded records, releases dedup keys, survives a reopen", async () => {
      const opened = await openOn(kind);
      const { queue } = opened;
      await queue.enqueue("q", "deduped", { dedupKey: "k" });
      for (let i = 0; i < 5; i++)
        await queue.enqueueBatch(
          "q",
          Array.from({ length: 1_000 }, (_, j) => `${i}.${j}`),
        );
      // A slice with no time to spare: one commit of the smallest step per turn of the event loop.
      setSliceMs(queue, 0);
      const removing = queue.removeJobs("q", "pending");
      assert.equal((await queue.stats("q")).pending, 5_001 - BULK_STEP_MIN);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal((await queue.stats("q")).pending, 5_001 - 2 * BULK_STEP_MIN);
      setSliceMs(queue, 4);
      assert.equal(await removing, 5_001);
      assert.equal((await queue.stats("q")).pending, 0);
      const fresh = await queue.enqueue("q", "again", { dedupKey: "k" });
      await queue.close();
      const again = await opened.reopen();
      assert.equal((await again.stats("q")).pending, 1);
      assert.equal((await again.getJob(fresh))?.dedupKey, "k");
      await again.close();
    });

    it("refuses a claimed status and bad options, changing nothing", async () => {
      const { queue } = await openOn(kind);
      await queue.enqueue("q", "x");
      const cases: [unknown, unknown, RegExp][] = [
        ["claimed", {}, /`status`/],
        ["everything", {}, /`status`/],
        ["pending", { olderThanMs: -5 }, /`options\.olderThanMs`.*got -5/],
        ["pending", { olderThanMs: 1.5 }, /`options\.olderThanMs`/],
        ["pending", "soon", /`options`/],
      ];
      for (const [status, options, message] of cases) {
        const error = await rejection(
          queue.removeJobs("q", status as "pending", options as object),
        );
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, message);
      }
      assert.equal((await queue.stats("q")).pending, 1);
      await queue.close();
    });
  });

  describe(`requeueDeadJobs on ${kind.name}`, { timeout: 60_000 }, () => {
    it("requeues dead jobs oldest first, up to a limit, attempts reset", async () => {
      const opened = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
      const { queue } = opened;
      const ids = await deadJobs(queue, "q", 5);
      assert.equal(await queue.requeueDeadJobs("q", { limit: 2 }), 2);
      assert.deepEqual(
        (await queue.listJobs("q", "pending")).jobs.map((j) => [j.id, j.attempts, j.lastError]),
        [
          [ids[0], 0, undefined],
          [ids[1], 0, undefined],
        ],
      );
      assert.equal(await queue.requeueDeadJobs("q", { limit: 0 }), 0);
      assert.equal(await queue.requeueDeadJobs("q"), 3);
      assert.equal((await queue.stats("q")).dead, 0);
      assert.equal(await queue.requeueDeadJobs("q"), 0);
      await queue.close();
      const again = await opened.reopen();
      assert.equal((await again.stats("q")).pending, 5);
      await again.close();
    });

    it("requeues thousands in bounded records; a waiting worker gets them", async () => {
      const { queue } = await openOn(kind);
      await deadJobs(queue, "q", 4_500);
      const waiting = queue.claimBatch("q", 10, { waitMs: 60_000 });
      setSliceMs(queue, 0);
      const requeueing = queue.requeueDeadJobs("q");
      assert.equal(
        (await queue.stats("q")).dead,
        4_500 - BULK_STEP_MIN,
        "one bounded commit per turn",
      );
      setSliceMs(queue, 4);
      assert.equal(await requeueing, 4_500);
      // Served by the first commit, with what it made pending.
      assert.equal((await waiting).length, Math.min(10, BULK_STEP_MIN));
      const stats = await queue.stats("q");
      assert.equal(stats.pending + stats.claimed, 4_500);
      await queue.close();
    });

    it("refuses a bad limit, changing nothing", async () => {
      const { queue } = await openOn(kind);
      await deadJobs(queue, "q", 1);
      for (const limit of [-1, 1.5, "all"]) {
        const error = await rejection(queue.requeueDeadJobs("q", { limit: limit as number }));
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, /^Expected `options\.limit`/);
      }
      assert.equal((await queue.stats("q")).dead, 1);
      await queue.close();
    });
  });
}

describe("operations survive SIGKILL once acknowledged", { timeout: 60_000 }, () => {
  it("pause, wake, remove and requeue", async () => {
    const dir = await tempDir();
    const [report] = (await runAndKill(dir, "operations")) as {
      woken: string;
      removed: number;
      requeued: number;
      kept: string;
    }[];
    const { Queue } = await import("../../src/queue/queue.js");
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    const stats = await queue.stats("work");
    assert.equal(stats.paused, true);
    assert.equal((await queue.getJob(report!.woken))?.status, "pending");
    assert.equal(report!.removed, 3);
    assert.equal(report!.requeued, 2);
    assert.equal(stats.dead, 0);
    assert.equal(stats.scheduled, 0);
    assert.deepEqual(
      (await queue.listJobs("work", "pending")).jobs.map((j) => text(j.payload)).sort(),
      ["dead 0", "dead 1", "later"],
    );
    assert.equal(await queue.claim("work"), null, "still paused");
    await queue.close();
  });
});
