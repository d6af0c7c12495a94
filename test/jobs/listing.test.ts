import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QueueReader } from "../../src/queue/reader.js";
import type { JobRecord, JobStatus } from "../../src/queue/types.js";
import { rejection } from "../queue/helpers.js";
import { openOn, STORES, text } from "./stores.js";

/** Every job of a walk, page by page. */
async function walkAll(
  list: (cursor: string | undefined) => Promise<{ jobs: JobRecord[]; nextCursor?: string }>,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list(cursor);
    pages++;
    ids.push(...page.jobs.map((j) => j.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return { ids, pages };
}

for (const kind of STORES) {
  describe(`listJobs on ${kind.name}`, { timeout: 60_000 }, () => {
    it("lists each status in its documented order, a page at a time", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { keepDoneJobsMs: 60_000, maxAttempts: 1 },
      });
      const now = clock.now();
      const low = await queue.enqueue("q", "low", { priority: 5_000 });
      const a = await queue.enqueue("q", "a");
      const high = await queue.enqueue("q", "high", { priority: 10 });
      const b = await queue.enqueue("q", "b");
      const later = await queue.enqueue("q", "later", { runAt: now + 5_000 });
      const sooner = await queue.enqueue("q", "sooner", { runAt: now + 1_000 });
      const pending = await queue.listJobs("q", "pending");
      assert.deepEqual(
        pending.jobs.map((j) => j.id),
        [high, a, b, low],
      );
      assert.equal(pending.nextCursor, undefined, "one page holds them all");
      assert.deepEqual(
        (await queue.listJobs("q", "scheduled")).jobs.map((j) => j.id),
        [sooner, later],
      );
      // Pages of one: the cursor walks the same order.
      const paged = await walkAll((cursor) =>
        queue.listJobs("q", "pending", { limit: 1, ...(cursor ? { cursor } : {}) }),
      );
      assert.deepEqual(paged.ids, [high, a, b, low]);
      assert.equal(paged.pages, 4);

      const [c1, c2, c3] = await queue.claimBatch("q", 3);
      assert.deepEqual(
        (await queue.listJobs("q", "claimed")).jobs.map((j) => [j.id, j.status]),
        [
          [a, "claimed"],
          [high, "claimed"],
          [b, "claimed"],
        ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
      );
      clock.advance(10);
      await queue.ack(c3!); // b done first
      clock.advance(10);
      await queue.ack(c1!); // high done second
      await queue.nack(c2!, "boom"); // a dead (one attempt)
      assert.deepEqual(
        (await queue.listJobs("q", "done")).jobs.map((j) => j.id),
        [b, high],
      );
      const dead = (await queue.listJobs("q", "dead")).jobs;
      assert.deepEqual(
        dead.map((j) => [j.id, j.lastError]),
        [[a, "boom"]],
      );
      assert.deepEqual((await queue.listJobs("other", "pending")).jobs, []);
      await queue.close();
    });

    it("a walk stays consistent while jobs come and go: none twice, none that stayed skipped", async () => {
      const { queue } = await openOn(kind);
      const ids = await queue.enqueueBatch(
        "q",
        Array.from({ length: 50 }, (_, i) => `job ${i}`),
      );
      const seen: string[] = [];
      let page = await queue.listJobs("q", "pending", { limit: 7 });
      let round = 0;
      const removed = new Set<string>();
      const added: string[] = [];
      for (;;) {
        seen.push(...page.jobs.map((j) => j.id));
        if (page.nextCursor === undefined) break;
        // Between pages: claim the first pending job (may be one already seen),
        // cancel one not seen yet, and add a new one at the end.
        const claim = await queue.claim("q");
        if (claim !== null) removed.add(claim.id);
        const victim = ids[49 - round];
        if (victim !== undefined && (await queue.cancel(victim)) === "removed") removed.add(victim);
        added.push(await queue.enqueue("q", `new ${round}`));
        round++;
        page = await queue.listJobs("q", "pending", { limit: 7, cursor: page.nextCursor });
      }
      assert.equal(new Set(seen).size, seen.length, "no job twice");
      for (const id of ids)
        if (!removed.has(id))
          assert.ok(seen.includes(id), `job ${id} stayed pending but was skipped`);
      // Jobs added behind the cursor are in the order's tail and were reached.
      assert.ok(seen.includes(added[0]!));
      await queue.close();
    });

    it("survives close and reopen: a cursor from before the restart goes on where it was", async () => {
      const opened = await openOn(kind);
      const ids = await opened.queue.enqueueBatch(
        "q",
        Array.from({ length: 10 }, (_, i) => `${i}`),
      );
      const first = await opened.queue.listJobs("q", "pending", { limit: 4 });
      await opened.queue.close();
      const queue = await opened.reopen();
      const rest = await queue.listJobs("q", "pending", { cursor: first.nextCursor! });
      assert.deepEqual(
        [...first.jobs, ...rest.jobs].map((j) => j.id),
        ids,
      );
      assert.equal(text(rest.jobs[0]?.payload), "4");
      await queue.close();
    });

    it("QueueReader lists the same pages with the same cursors, without fencing the writer", async () => {
      const { queue, store } = await openOn(kind);
      await queue.enqueueBatch("q", ["a", "b", "c"]);
      await queue.enqueue("q", "s", { runAt: queue.clock.now() + 60_000 });
      await queue.flush();
      const reader = await QueueReader.open(store, "q");
      const writerFirst = await queue.listJobs("q", "pending", { limit: 2 });
      const readerFirst = reader.listJobs("q", "pending", { limit: 2 });
      assert.deepEqual(
        readerFirst.jobs.map((j) => j.id),
        writerFirst.jobs.map((j) => j.id),
      );
      assert.equal(readerFirst.nextCursor, writerFirst.nextCursor);
      const readerRest = reader.listJobs("q", "pending", { cursor: writerFirst.nextCursor! });
      assert.deepEqual(
        readerRest.jobs.map((j) => text(j.payload)),
        ["c"],
      );
      assert.equal(reader.listJobs("q", "scheduled").jobs.length, 1);
      await queue.enqueue("q", "still the writer");
      await queue.close();
    });

    it("bad arguments are refused with INVALID_ARGUMENT naming the argument", async () => {
      const { queue } = await openOn(kind);
      await queue.enqueueBatch("q", ["a", "b"]);
      const first = await queue.listJobs("q", "pending", { limit: 1 });
      const cases: [JobStatus, object, RegExp][] = [
        ["running" as JobStatus, {}, /`status`/],
        ["pending", { limit: 0 }, /`options\.limit`.*1 to 1000/],
        ["pending", { limit: 1_001 }, /`options\.limit`/],
        ["pending", { limit: 1.5 }, /`options\.limit`/],
        ["pending", { cursor: "nonsense" }, /`options\.cursor`/],
        ["pending", { cursor: 7 }, /`options\.cursor`/],
        ["dead", { cursor: first.nextCursor }, /`options\.cursor`.*"dead"/],
      ];
      for (const [status, options, message] of cases) {
        const error = await rejection(queue.listJobs("q", status, options));
        assert.equal(error.code, "INVALID_ARGUMENT", JSON.stringify(options));
        assert.match(error.message, message);
        assert.match(error.message, /^Expected `/);
      }
      assert.equal((await rejection(queue.listJobs("", "pending"))).code, "INVALID_ARGUMENT");
      await queue.close();
    });
  });
}
