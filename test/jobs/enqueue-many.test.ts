import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { rejection } from "../queue/helpers.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir, text } from "./stores.js";

for (const kind of STORES) {
  describe(`enqueueMany on ${kind.name}`, { timeout: 60_000 }, () => {
    it("adds jobs with their own options; results in input order", async () => {
      const { queue, clock } = await openOn(kind);
      const now = clock.now();
      const results = await queue.enqueueMany("q", [
        { payload: "plain" },
        { payload: "urgent", options: { priority: 1, headers: { k: "v" }, maxAttempts: 7 } },
        { payload: "later", options: { runAt: now + 5_000 } },
        { payload: "delayed", options: { delayMs: 2_000 } },
        { payload: "now", options: { delayMs: 0 } },
      ]);
      assert.equal(results.length, 5);
      assert.ok(results.every((r) => r.created));
      const [plain, urgent, later, delayed, atOnce] = await Promise.all(
        results.map((r) => queue.getJob(r.id)),
      );
      assert.equal(text(plain?.payload), "plain");
      assert.deepEqual(
        [urgent?.priority, urgent?.maxAttempts, urgent?.headers],
        [1, 7, { k: "v" }],
      );
      assert.deepEqual([later?.status, later?.runAt], ["scheduled", now + 5_000]);
      assert.deepEqual([delayed?.status, delayed?.runAt], ["scheduled", now + 2_000]);
      assert.equal(atOnce?.status, "pending");
      assert.deepEqual(
        (await queue.claimBatch("q", 10)).map((c) => text(c.payload)),
        ["urgent", "plain", "now"],
      );
      clock.advance(2_000);
      await queue.promoteScheduledNow();
      assert.equal(text((await queue.claim("q"))?.payload), "delayed");
      assert.deepEqual(await queue.enqueueMany("q", []), []);
      await queue.close();
    });

    it("a dedup hit, on a waiting job or an earlier job of the call, says created: false", async () => {
      const { queue } = await openOn(kind);
      const held = await queue.enqueue("q", "first", { dedupKey: "a" });
      const results = await queue.enqueueMany("q", [
        { payload: "dup of first", options: { dedupKey: "a" } },
        { payload: "new b", options: { dedupKey: "b" } },
        { payload: "dup of b", options: { dedupKey: "b" } },
        { payload: "no key" },
      ]);
      assert.deepEqual(
        results.map((r) => r.created),
        [false, true, false, true],
      );
      assert.equal(results[0]?.id, held);
      assert.equal(results[2]?.id, results[1]?.id);
      assert.equal((await queue.stats("q")).pending, 3);
      await queue.close();
    });

    it("is atomic: one bad job refuses the call, naming it, and stores nothing", async () => {
      const { queue } = await openOn(kind);
      const cases: [unknown, RegExp, string][] = [
        [
          [{ payload: "ok" }, { payload: "x", options: { priority: -1 } }],
          /`jobs\[1\]\.options\.priority`/,
          "INVALID_ARGUMENT",
        ],
        [[{ payload: 5 }], /`jobs\[0\]\.payload`/, "INVALID_ARGUMENT"],
        [["just a string"], /`jobs\[0\]`/, "INVALID_ARGUMENT"],
        [
          [{ payload: "x", options: { runAt: 5, delayMs: 5 } }],
          /`jobs\[0\]\.options\.delayMs` to be absent when `jobs\[0\]\.options\.runAt` is given, got 5/,
          "INVALID_ARGUMENT",
        ],
        [
          [{ payload: "x", options: { delayMs: -5 } }],
          /`jobs\[0\]\.options\.delayMs`.*got -5/,
          "INVALID_ARGUMENT",
        ],
        [
          [
            { payload: "x", options: { jobId: "same" } },
            { payload: "y", options: { jobId: "same" } },
          ],
          /`jobs\[1\]\.options\.jobId`/,
          "DUPLICATE_JOB_ID",
        ],
        ["not an array", /`jobs`/, "INVALID_ARGUMENT"],
      ];
      for (const [jobs, message, code] of cases) {
        const error = await rejection(queue.enqueueMany("q", jobs as never));
        assert.equal(error.code, code, String(message));
        assert.match(error.message, message);
        assert.match(error.message, /^Expected `/);
      }
      assert.deepEqual(await queue.listQueues(), []);
      await queue.close();
    });
  });

  describe(`caller-chosen job ids on ${kind.name}`, { timeout: 60_000 }, () => {
    it("a job goes by its jobId everywhere; a taken id is refused", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { keepDoneJobsMs: 60_000 },
      });
      const seen: string[] = [];
      queue.on("enqueued", (e) => seen.push(`enqueued ${e.id}`));
      queue.on("completed", (e) => seen.push(`completed ${e.id}`));
      assert.equal(await queue.enqueue("q", "a", { jobId: "order-1" }), "order-1");
      assert.equal((await queue.getJob("order-1"))?.id, "order-1");
      const error = await rejection(queue.enqueue("q", "again", { jobId: "order-1" }));
      assert.equal(error.code, "DUPLICATE_JOB_ID");
      assert.equal(error.name, "DuplicateJobIdError");
      assert.match(
        error.message,
        /^Expected `options\.jobId` to be an id no job has, got "order-1"/,
      );
      assert.equal((await queue.stats("q")).pending, 1, "the duplicate wrote nothing");
      // Also in another queue: ids are unique within the store.
      assert.equal(
        (await rejection(queue.enqueue("other", "x", { jobId: "order-1" }))).code,
        "DUPLICATE_JOB_ID",
      );
      assert.deepEqual(
        (await queue.listJobs("q", "pending")).jobs.map((j) => j.id),
        ["order-1"],
      );
      const claim = await queue.claim("q");
      assert.equal(claim?.id, "order-1");
      clock.advance(5);
      await queue.ack(claim!);
      assert.equal((await queue.getJob("order-1"))?.status, "done");
      assert.deepEqual(seen, ["enqueued order-1", "completed order-1"]);
      // A generated id cannot be taken as a jobId either.
      const generated = await queue.enqueue("q", "g");
      assert.equal(
        (await rejection(queue.enqueue("q", "x", { jobId: generated }))).code,
        "DUPLICATE_JOB_ID",
      );
      await queue.close();
    });

    it("cancel, requeue and deadJobs paging work by jobId; the id is free again once the job is gone", async () => {
      const { queue } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
      await queue.enqueueMany("q", [
        { payload: "1", options: { jobId: "a" } },
        { payload: "2", options: { jobId: "b" } },
        { payload: "3", options: { jobId: "c" } },
      ]);
      assert.equal(await queue.cancel("a"), "removed");
      for (const claim of await queue.claimBatch("q", 2)) await queue.nack(claim, "no");
      assert.deepEqual(
        (await queue.deadJobs("q", { after: "b" })).map((j) => j.id),
        ["c"],
      );
      await queue.requeueDeadJob("b");
      assert.equal((await queue.getJob("b"))?.status, "pending");
      assert.equal(await queue.enqueue("q", "again", { jobId: "a" }), "a");
      for (const bad of ["", "x".repeat(129), "has space", "ümlaut", 7]) {
        const error = await rejection(queue.enqueue("q", "x", { jobId: bad as string }));
        assert.equal(error.code, "INVALID_ARGUMENT", String(bad));
        assert.match(error.message, /`options\.jobId`/);
      }
      await queue.close();
    });

    it("survive close and reopen (from a checkpoint) and a crash (from the WAL), and QueueReader finds them", async () => {
      const opened = await openOn(kind);
      await opened.queue.enqueue("q", "checkpointed", { jobId: "kept-1" });
      await opened.queue.close();
      let queue = await opened.reopen();
      assert.equal(text((await queue.getJob("kept-1"))?.payload), "checkpointed");
      await queue.enqueue("q", "only in the WAL", { jobId: "wal-1" });
      // Abandon without a close: the next writer replays the WAL.
      queue = await opened.reopen();
      assert.equal(text((await queue.getJob("wal-1"))?.payload), "only in the WAL");
      assert.equal(
        (await rejection(queue.enqueue("q", "x", { jobId: "kept-1" }))).code,
        "DUPLICATE_JOB_ID",
      );
      await queue.flush();
      const reader = await QueueReader.open(opened.store, "q");
      assert.equal(reader.getJob("wal-1")?.id, "wal-1");
      assert.equal(reader.getJob("kept-1")?.status, "pending");
      await queue.close();
    });
  });
}

describe("enqueueMany and jobId survive SIGKILL once acknowledged", { timeout: 60_000 }, () => {
  it("every acknowledged job is there by its jobId", async () => {
    const dir = await tempDir();
    const [report] = (await runAndKill(dir, "enqueue-many", 50)) as { ids: string[] }[];
    assert.equal(report?.ids.length, 50);
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    for (const [i, id] of report!.ids.entries()) {
      assert.equal(id, `job-${i}`);
      assert.equal(text((await queue.getJob(id))?.payload), `payload ${i}`);
    }
    assert.equal(
      (await rejection(queue.enqueue("work", "x", { jobId: "job-0" }))).code,
      "DUPLICATE_JOB_ID",
    );
    await queue.close();
  });
});
