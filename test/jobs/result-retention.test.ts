/**
 * How long a done job's result is kept when the queue also keeps done jobs:
 * a job acked without a result goes at `keepDoneJobsMs`, one holding a
 * result at the longer of that and `resultRetentionMs`; across reopens
 * (WAL replay, checkpoint, checkpoint then crash), for `tx.ack` and a
 * worker's `ctx.transaction`, and without disturbing listings.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { until } from "../until.js";
import { type Opened, openOn, STORES, text } from "./stores.js";

const KEEP_DONE_MS = 1_000;
const RESULT_MS = 60_000;
const RETENTION = {
  defaultQueueConfig: { keepDoneJobsMs: KEEP_DONE_MS, resultRetentionMs: RESULT_MS },
};

/** How the queue is reopened between the steps of a test. */
type Reopen = "none" | "replay" | "close" | "checkpoint then crash";
const REOPENS: readonly Reopen[] = ["none", "replay", "close", "checkpoint then crash"];

/** Waits until `queue` wrote a checkpoint after the ones it had written before. */
async function checkpointed(queue: Queue, before: number): Promise<void> {
  await queue.flush();
  await until(() => queue.logStats().checkpointsWritten > before, "a new checkpoint");
}

/** `queue` reopened as `how` says (the old one is closed or dropped). */
async function reopened(opened: Opened, queue: Queue, how: Reopen): Promise<Queue> {
  switch (how) {
    case "none":
      return queue;
    case "replay":
      await queue.flush();
      return opened.reopen(); // no close: the next writer replays the WAL
    case "close":
      await queue.close(); // a final checkpoint
      return opened.reopen();
    case "checkpoint then crash": {
      // A checkpoint holding the state as it is, then no close: opened from it.
      const before = queue.logStats().checkpointsWritten;
      await queue.kvPut("nudge", String(before)); // a record, so a checkpoint follows
      await checkpointed(queue, before);
      return opened.reopen();
    }
  }
}

for (const kind of STORES) {
  describe(`result retention with keepDoneJobsMs on ${kind.name}`, { timeout: 60_000 }, () => {
    for (const how of REOPENS)
      it(`keepDoneJobsMs shorter than resultRetentionMs: a result outlives done jobs without one (reopen: ${how})`, async () => {
        const opened = await openOn(kind, {
          ...RETENTION,
          ...(how === "checkpoint then crash" ? { log: { checkpointWalRecords: 1 } } : {}),
        });
        const { clock } = opened;
        let queue = opened.queue;
        const withResult = await queue.enqueue("work", "a");
        const without = await queue.enqueue("work", "b");
        await queue.ack((await queue.claim("work"))!, { result: "ra" });
        await queue.ack((await queue.claim("work"))!);
        const completedAt = clock.now();
        queue = await reopened(opened, queue, how);

        clock.advance(2_000);
        await queue.reapNow();
        queue = await reopened(opened, queue, how);
        const job = await queue.getJob(withResult);
        assert.equal(job?.status, "done");
        assert.equal(text(job?.result), "ra", "kept with its result past keepDoneJobsMs");
        assert.equal(job?.completedAt, completedAt);
        assert.deepEqual(await queue.waitForCompletion(withResult), {
          status: "done",
          result: Buffer.from("ra"),
        });
        assert.equal(await queue.getJob(without), null, "no result: gone at keepDoneJobsMs");
        assert.deepEqual(await queue.waitForCompletion(without), { status: "not_found" });
        assert.equal((await queue.stats("work")).done, 2, "the done counter counts both");
        await queue.flush();
        const reader = await QueueReader.open(opened.store, "q");
        assert.equal(text(reader.getJob(withResult)?.result), "ra", "a reader sees the same");
        assert.equal(reader.getJob(without), null);

        clock.advance(RESULT_MS - 2_000 - 1);
        await queue.reapNow();
        assert.equal(
          text((await queue.getJob(withResult))?.result),
          "ra",
          "until resultRetentionMs",
        );
        clock.advance(2);
        await queue.reapNow();
        queue = await reopened(opened, queue, how);
        assert.equal(await queue.getJob(withResult), null, "gone after resultRetentionMs");
        assert.deepEqual(await queue.waitForCompletion(withResult), { status: "not_found" });
        assert.equal(await queue.getJob(without), null);
        assert.equal((await queue.stats("work")).done, 2);
        await queue.close();
        await opened.queue.close().catch(() => {});
      });

    it("keepDoneJobsMs at least resultRetentionMs: every done job, with a result or without, is kept for keepDoneJobsMs", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { keepDoneJobsMs: 50_000, resultRetentionMs: 1_000 },
      });
      const withResult = await queue.enqueue("work", "a");
      const without = await queue.enqueue("work", "b");
      await queue.ack((await queue.claim("work"))!, { result: "ra" });
      await queue.ack((await queue.claim("work"))!);
      clock.advance(50_000);
      await queue.reapNow();
      assert.equal(text((await queue.getJob(withResult))?.result), "ra");
      assert.equal((await queue.getJob(without))?.status, "done");
      clock.advance(1);
      await queue.reapNow();
      assert.equal(await queue.getJob(withResult), null);
      assert.equal(await queue.getJob(without), null);
      await queue.close();
    });

    it("keepDoneJobsMs null: only a job acked with a result is kept, for resultRetentionMs", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { keepDoneJobsMs: null, resultRetentionMs: 5_000 },
      });
      const withResult = await queue.enqueue("work", "a");
      const without = await queue.enqueue("work", "b");
      await queue.ack((await queue.claim("work"))!, { result: "ra" });
      await queue.ack((await queue.claim("work"))!);
      assert.equal(await queue.getJob(without), null, "deleted on ack");
      clock.advance(5_000);
      await queue.reapNow();
      assert.equal(text((await queue.getJob(withResult))?.result), "ra");
      clock.advance(1);
      await queue.reapNow();
      assert.equal(await queue.getJob(withResult), null);
      await queue.close();
    });

    it("tx.ack(claim, { result }) keeps the result as long as ack does", async () => {
      const opened = await openOn(kind, RETENTION);
      const { clock } = opened;
      const withResult = await opened.queue.enqueue("work", "a");
      const without = await opened.queue.enqueue("work", "b");
      const [first, second] = await opened.queue.claimBatch("work", 2);
      await opened.queue.transaction((tx) => {
        tx.ack(first!, { result: "ra" });
        tx.ack(second!);
      });
      clock.advance(2_000);
      await opened.queue.reapNow();
      const queue = await reopened(opened, opened.queue, "replay");
      assert.deepEqual(await queue.waitForCompletion(withResult), {
        status: "done",
        result: Buffer.from("ra"),
      });
      assert.equal(await queue.getJob(without), null);
      clock.advance(RESULT_MS);
      await queue.reapNow();
      assert.equal(await queue.getJob(withResult), null);
      await queue.close();
      await opened.queue.close().catch(() => {});
    });

    it("a worker's ctx.transaction ack with a result, and a handler's return value, are kept as long", async () => {
      const { queue, clock } = await openOn(kind, RETENTION);
      const [viaTx, returned, plain] = await queue.enqueueBatch("work", ["tx", "return", "plain"]);
      const stop = new AbortController();
      let handled = 0;
      await runWorker(
        queue,
        "work",
        async (job, ctx) => {
          if (++handled === 3) stop.abort();
          const what = text(job.payload);
          if (what === "tx") await ctx.transaction((tx) => tx.ack(job, { result: "from tx" }));
          return what === "return" ? "returned" : undefined;
        },
        { signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
      clock.advance(2_000);
      await queue.reapNow();
      assert.equal(text((await queue.getJob(viaTx!))?.result), "from tx");
      assert.equal(text((await queue.getJob(returned!))?.result), "returned");
      assert.equal(await queue.getJob(plain!), null);
      await queue.close();
    });

    it("listJobs('done') walks both kinds in completion order, stable across a sweep; removeJobs takes both", async () => {
      const { queue, clock } = await openOn(kind, RETENTION);
      const ids: string[] = [];
      const results = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const id = await queue.enqueue("work", `j${i}`);
        const claim = await queue.claim("work");
        // Results on an irregular pattern, so the two kinds interleave unevenly.
        if (i % 3 !== 1) {
          await queue.ack(claim!, { result: `r${i}` });
          results.add(id);
        } else await queue.ack(claim!);
        ids.push(id);
        clock.advance(i % 4 === 0 ? 10 : 60); // all within keepDoneJobsMs: nothing swept yet
      }
      const listAll = async () => (await queue.listJobs("work", "done", { limit: 1_000 })).jobs;
      assert.deepEqual(
        (await listAll()).map((j) => j.id),
        ids,
        "completion order across both kinds",
      );
      // Walk in pages of 3; after the first page, a sweep takes the jobs without a result
      // that completed more than keepDoneJobsMs ago.
      const seen: string[] = [];
      let cursor: string | undefined;
      let page = 0;
      do {
        const next = await queue.listJobs("work", "done", {
          limit: 3,
          ...(cursor === undefined ? {} : { cursor }),
        });
        seen.push(...next.jobs.map((j) => j.id));
        cursor = next.nextCursor;
        if (page++ === 0) {
          clock.advance(KEEP_DONE_MS);
          await queue.reapNow();
        }
      } while (cursor !== undefined);
      // Every job without a result completed more than keepDoneJobsMs before the sweep.
      const swept = ids.filter((id) => !results.has(id));
      const kept = ids.filter((id) => !swept.includes(id));
      assert.equal(new Set(seen).size, seen.length, "no job twice");
      for (const id of kept) assert.ok(seen.includes(id), `kept job ${id} not skipped`);
      assert.deepEqual(
        seen.filter((id) => kept.includes(id)),
        kept,
        "in completion order",
      );
      assert.deepEqual(
        (await listAll()).map((j) => j.id),
        kept,
      );
      for (const id of swept) assert.equal(await queue.getJob(id), null);

      assert.equal(await queue.removeJobs("work", "done"), kept.length);
      assert.deepEqual(await listAll(), []);
      assert.equal((await queue.stats("work")).done, 12, "the done counter is cumulative");
      await queue.close();
    });
  });
}
