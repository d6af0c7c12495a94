import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { JobAttempt } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { until } from "../until.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir, turns } from "./stores.js";

const T0 = 1_700_000_000_000;
const DAY_MS = 86_400_000;

/** The cancelled pending job's history as the tests leave it: cancelled at `at`, never claimed. */
function cancelledAt(at: number, attempt = 0): JobAttempt[] {
  return [{ attempt, recordedAt: at, outcome: "cancelled" }];
}

for (const kind of STORES) {
  describe(`cancelled jobs on ${kind.name}`, { timeout: 60_000 }, () => {
    it("a cancelled pending job answers cancelled and keeps its history; it is no job any more", async () => {
      const { queue, clock } = await openOn(kind);
      const id = await queue.enqueue("work", "a");
      const named = await queue.enqueue("work", "b", { jobId: "order-7", runAt: T0 + 60_000 });
      clock.advance(5);
      assert.equal(await queue.cancel(id), "removed");
      assert.equal(await queue.cancel(named), "removed");
      assert.deepEqual(await queue.waitForCompletion(id), { status: "cancelled" });
      assert.deepEqual(await queue.waitForCompletion("order-7"), { status: "cancelled" });
      assert.deepEqual(await queue.attemptHistory(id), cancelledAt(T0 + 5));
      assert.deepEqual(await queue.attemptHistory("order-7"), cancelledAt(T0 + 5));
      // Not a job: getJob, listings and counters are as before.
      assert.equal(await queue.getJob(id), null);
      assert.equal(await queue.getJob("order-7"), null);
      assert.equal(await queue.cancel(id), "not_found");
      const stats = await queue.stats("work");
      assert.deepEqual([stats.pending, stats.scheduled, stats.done, stats.dead], [0, 0, 0, 0]);
      assert.deepEqual((await queue.listJobs("work", "pending")).jobs, []);
      assert.deepEqual(await queue.listQueues(), ["work"]);
      await queue.close();
    });

    it("survives a reopen without close (replay), a clean close (checkpoint) and reads by a QueueReader", async () => {
      const { queue, clock, reopen, store } = await openOn(kind);
      const id = await queue.enqueue("work", "a", { jobId: "job-a" });
      clock.advance(7);
      await queue.cancel(id);
      const expected = cancelledAt(T0 + 7);
      // Not closed: the next writer replays the WAL.
      const second = await reopen();
      assert.deepEqual(await second.waitForCompletion("job-a"), { status: "cancelled" });
      assert.deepEqual(await second.attemptHistory("job-a"), expected);
      await second.close();
      // Closed: the checkpoint holds the tombstone.
      const third = await reopen();
      assert.deepEqual(await third.waitForCompletion("job-a"), { status: "cancelled" });
      assert.deepEqual(await third.attemptHistory("job-a"), expected);
      const reader = await QueueReader.open(store, "q");
      assert.deepEqual(reader.attemptHistory("job-a"), expected);
      assert.equal(reader.getJob("job-a"), null);
      await third.close();
      await queue.close().catch(() => {});
    });

    it("a claim nacked after its cancel was requested keeps the nack's error in its history, across reopens", async () => {
      const { queue, clock, reopen, store } = await openOn(kind);
      const id = await queue.enqueue("work", "a", { jobId: "job-n" });
      const [claim] = await queue.claimBatch("work", 1);
      assert.ok(claim !== undefined);
      clock.advance(2);
      assert.equal(await queue.cancel(id), "requested");
      clock.advance(3);
      await queue.nack(claim, "upstream said 503");
      const expected: JobAttempt[] = [
        {
          attempt: 1,
          claimedAt: T0,
          recordedAt: T0 + 5,
          error: "upstream said 503",
          outcome: "cancelled",
        },
      ];
      assert.deepEqual(await queue.waitForCompletion(id), { status: "cancelled" });
      assert.deepEqual(await queue.attemptHistory("job-n"), expected);
      // Not closed: the next writer replays the WAL record.
      const second = await reopen();
      assert.deepEqual(await second.attemptHistory("job-n"), expected);
      await second.close();
      // Closed: the checkpoint's tombstone holds it.
      const third = await reopen();
      assert.deepEqual(await third.attemptHistory("job-n"), expected);
      const reader = await QueueReader.open(store, "q");
      assert.deepEqual(reader.attemptHistory("job-n"), expected);
      await third.close();
      await queue.close().catch(() => {});
    });

    it("a claimed job cancelled while its runWorker handler runs answers cancelled, with the attempt's claimedAt", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 0 },
      });
      const id = await queue.enqueue("work", "slow");
      let started!: () => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const shutdown = new AbortController();
      const worker = runWorker(
        queue,
        "work",
        async (_job, ctx) => {
          started();
          await new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
          );
        },
        { signal: shutdown.signal },
      );
      await running;
      const claimedAt = (await queue.getJob(id))?.claimedAt;
      assert.equal(claimedAt, T0);
      const waiting = queue.waitForCompletion(id);
      clock.advance(3);
      assert.equal(await queue.cancel(id), "requested");
      assert.deepEqual(await waiting, { status: "cancelled" }, "a waiter already waiting");
      await until(async () => (await queue.getJob(id)) === null);
      shutdown.abort();
      await worker;
      assert.deepEqual(
        await queue.waitForCompletion(id),
        { status: "cancelled" },
        "after the fact",
      );
      assert.deepEqual(await queue.attemptHistory(id), [
        { attempt: 1, claimedAt: T0, recordedAt: T0 + 3, outcome: "cancelled" },
      ]);
      await queue.close();
    });

    it("a runWorker handler that fails with its own error after a cancel keeps that error; one that rethrows the cancel does not", async () => {
      const { queue, clock } = await openOn(kind);
      const own = await queue.enqueue("work", "own");
      const rethrown = await queue.enqueue("work", "rethrow");
      let started = 0;
      const shutdown = new AbortController();
      const worker = runWorker(
        queue,
        "work",
        async (job, ctx) => {
          started++;
          await new Promise<void>((resolve) =>
            ctx.signal.addEventListener("abort", () => resolve()),
          );
          if (Buffer.from(job.payload).toString() === "own") throw new Error("rollback failed");
          throw ctx.signal.reason;
        },
        { signal: shutdown.signal, concurrency: 2 },
      );
      await until(() => started === 2);
      clock.advance(4);
      assert.equal(await queue.cancel(own), "requested");
      assert.equal(await queue.cancel(rethrown), "requested");
      await until(
        async () => (await queue.getJob(own)) === null && (await queue.getJob(rethrown)) === null,
      );
      shutdown.abort();
      await worker;
      const ended = {
        attempt: 1,
        claimedAt: T0,
        recordedAt: T0 + 4,
        outcome: "cancelled" as const,
      };
      assert.deepEqual(await queue.attemptHistory(own), [{ ...ended, error: "rollback failed" }]);
      assert.deepEqual(await queue.attemptHistory(rethrown), [ended]);
      await queue.close();
    });

    it("is forgotten once resultRetentionMs passed (then not_found), also after a reopen", async () => {
      const { queue, clock, reopen } = await openOn(kind, {
        queueConfigs: { short: { resultRetentionMs: 1_000 } },
      });
      const short = await queue.enqueue("short", "a");
      const long = await queue.enqueue("long", "b");
      await queue.cancel(short);
      await queue.cancel(long);
      clock.advance(1_000);
      await queue.reapNow();
      assert.deepEqual(await queue.waitForCompletion(short), { status: "cancelled" }, "not yet");
      clock.advance(1);
      await queue.reapNow();
      assert.deepEqual(await queue.waitForCompletion(short), { status: "not_found" });
      assert.deepEqual(await queue.attemptHistory(short), []);
      assert.deepEqual(await queue.waitForCompletion(long), { status: "cancelled" });
      await queue.close();
      const again = await reopen();
      assert.deepEqual(await again.waitForCompletion(short), { status: "not_found" });
      assert.deepEqual(await again.waitForCompletion(long), { status: "cancelled" });
      clock.advance(DAY_MS);
      await again.reapNow();
      assert.deepEqual(await again.waitForCompletion(long), { status: "not_found" });
      await again.close();
    });

    it("an enqueue reusing a cancelled job's jobId succeeds and starts afresh", async () => {
      const { queue } = await openOn(kind);
      const first = await queue.enqueue("work", "a", { jobId: "invoice-1" });
      await queue.cancel(first);
      const second = await queue.enqueue("work", "b", { jobId: "invoice-1" });
      assert.equal(second, "invoice-1");
      assert.deepEqual(await queue.attemptHistory("invoice-1"), []);
      assert.equal((await queue.getJob("invoice-1"))?.status, "pending");
      const done = queue.waitForCompletion("invoice-1");
      await queue.ack((await queue.claim("work"))!);
      assert.deepEqual(await done, { status: "done" });
      // The new job was not kept: its id is unknown again, the old tombstone is gone.
      assert.deepEqual(await queue.waitForCompletion("invoice-1"), { status: "not_found" });
      await queue.close();
    });

    it("tx.cancel leaves a tombstone; a transaction still cannot reuse an id its own cancel frees", async () => {
      const { queue, clock } = await openOn(kind);
      const id = await queue.enqueue("work", "a", { jobId: "tx-job" });
      clock.advance(2);
      const refused = await queue
        .transaction((tx) => {
          tx.cancel(id);
          tx.enqueue("work", "b", { jobId: "tx-job" });
        })
        .then(
          () => null,
          (error: { code?: string }) => error.code,
        );
      assert.equal(refused, "INVALID_ARGUMENT");
      assert.equal((await queue.getJob("tx-job"))?.status, "pending", "nothing changed");
      const result = await queue.transaction((tx) => tx.cancel("tx-job"));
      assert.deepEqual(result.cancelled, ["removed"]);
      assert.deepEqual(await queue.waitForCompletion("tx-job"), { status: "cancelled" });
      assert.deepEqual(await queue.attemptHistory("tx-job"), cancelledAt(T0 + 2));
      // The next transaction may reuse it.
      await queue.transaction((tx) => tx.enqueue("work", "c", { jobId: "tx-job" }));
      assert.equal((await queue.getJob("tx-job"))?.status, "pending");
      await queue.close();
    });

    it("a cancelled flow parent's waiting children answer cancelled too", async () => {
      const { queue } = await openOn(kind);
      const flow = await queue.enqueueFlow({
        queue: "parent",
        payload: "p",
        children: [{ queue: "child", payload: "c" }],
      });
      assert.equal(await queue.cancel(flow.id), "removed");
      assert.deepEqual(await queue.waitForCompletion(flow.id), { status: "cancelled" });
      assert.deepEqual(await queue.waitForCompletion(flow.children[0]!.id), {
        status: "cancelled",
      });
      assert.equal((await queue.attemptHistory(flow.children[0]!.id)).at(-1)?.outcome, "cancelled");
      await queue.close();
    });

    it("removeJobs leaves no tombstone", async () => {
      const { queue } = await openOn(kind);
      const id = await queue.enqueue("work", "a");
      const waiting = queue.waitForCompletion(id);
      assert.equal(await queue.removeJobs("work", "pending"), 1);
      assert.deepEqual(await waiting, { status: "cancelled" }, "a waiter learns it ended");
      await turns();
      assert.deepEqual(await queue.waitForCompletion(id), { status: "not_found" });
      assert.deepEqual(await queue.attemptHistory(id), []);
      await queue.close();
    });
  });
}

describe("cancelled jobs and SIGKILL", { timeout: 120_000 }, () => {
  it("cancels acknowledged before the kill answer cancelled after the reopen", async () => {
    const dir = await tempDir();
    const [said] = (await runAndKill(dir, "cancel-and-die")) as {
      pending: string;
      claimed: string;
      claimedAt: number;
    }[];
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    assert.equal(said!.pending, "cancel-pending");
    for (const id of [said!.pending, said!.claimed])
      assert.deepEqual(await queue.waitForCompletion(id), { status: "cancelled" }, id);
    const [pending] = await queue.attemptHistory(said!.pending);
    assert.deepEqual(
      [pending?.attempt, pending?.outcome, pending?.claimedAt],
      [0, "cancelled", undefined],
    );
    const [claimed] = await queue.attemptHistory(said!.claimed);
    assert.deepEqual(
      [claimed?.attempt, claimed?.outcome, claimed?.claimedAt],
      [1, "cancelled", said!.claimedAt],
    );
    await queue.close();
  });
});
