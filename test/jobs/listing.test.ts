import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { JobRecord, JobStatus } from "../../src/queue/types.js";
import { rejection } from "../queue/helpers.js";
import { until } from "../until.js";
import { openOn, STORES, text } from "./stores.js";

/**
 * Jobs whose enqueue order is not their id order: own ids out of order, one
 * before every generated id ("-…", "0…" sorts among them) and lower case after them.
 */
async function enqueueMixed(queue: Queue): Promise<string[]> {
  const ids: string[] = [];
  for (const jobId of ["job-b", "job-a", "job-c"])
    ids.push(await queue.enqueue("q", jobId, { jobId }));
  ids.push(await queue.enqueue("q", "generated 1"));
  ids.push(await queue.enqueue("q", "-first", { jobId: "-first" }));
  ids.push(await queue.enqueue("q", "generated 2"));
  ids.push(await queue.enqueue("q", "Zed", { jobId: "Zed" }));
  ids.push(await queue.enqueue("q", "generated 3"));
  ids.push(await queue.enqueue("q", "000", { jobId: "000" }));
  return ids;
}

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

    it("claimed and dead jobs with their own ids are listed by id among generated ones, in pages of any size", async () => {
      const { queue } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
      const ids = await enqueueMixed(queue);
      const sorted = [...ids].sort();
      assert.notDeepEqual(sorted, ids, "enqueue order is not id order");
      const claims = await queue.claimBatch("q", ids.length);
      assert.equal(claims.length, ids.length);
      for (const status of ["claimed", "dead"] as const) {
        assert.deepEqual(
          (await queue.listJobs("q", status)).jobs.map((j) => j.id),
          sorted,
        );
        for (const limit of [1, 2, 3, 5])
          assert.deepEqual(
            (
              await walkAll((cursor) =>
                queue.listJobs("q", status, { limit, ...(cursor ? { cursor } : {}) }),
              )
            ).ids,
            sorted,
            `${status}, pages of ${limit}`,
          );
        if (status === "claimed") for (const c of claims) await queue.deadLetter(c, "x");
      }
      // deadJobs: the same order, paged by the last id.
      assert.deepEqual(
        (await queue.deadJobs("q")).map((j) => j.id),
        sorted,
      );
      const paged: string[] = [];
      for (let page = await queue.deadJobs("q", { limit: 2 }); page.length > 0; ) {
        paged.push(...page.map((j) => j.id));
        page = await queue.deadJobs("q", { limit: 2, after: page.at(-1)!.id });
      }
      assert.deepEqual(paged, sorted);
      await queue.close();
    });

    it("a by-id walk of dead jobs survives removals and requeues of own and generated ids between pages", async () => {
      const { queue } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
      const ids = await enqueueMixed(queue);
      for (const c of await queue.claimBatch("q", ids.length)) await queue.deadLetter(c, "x");
      const sorted = [...ids].sort();
      const seen: string[] = [];
      const gone = new Set<string>();
      let page = await queue.listJobs("q", "dead", { limit: 2 });
      let deadPage = await queue.deadJobs("q", { limit: 2 });
      const deadSeen: string[] = [];
      /** Jobs removed before the walks reached them. */
      const unseen = new Set<string>();
      for (;;) {
        seen.push(...page.jobs.map((j) => j.id));
        deadSeen.push(...deadPage.map((j) => j.id));
        if (page.nextCursor === undefined) break;
        // The page's last job goes (removed, or requeued and so no longer dead), and one
        // not reached yet too.
        const last = page.jobs.at(-1)!.id;
        if (seen.length % 4 === 0) await queue.requeueDeadJob(last);
        else assert.equal(await queue.removeJob(last), true);
        gone.add(last);
        const ahead = sorted.filter((id) => !seen.includes(id) && !gone.has(id)).at(-1);
        if (ahead !== undefined && gone.size % 2 === 0) {
          assert.equal(await queue.removeJob(ahead), true);
          gone.add(ahead);
          unseen.add(ahead);
        }
        page = await queue.listJobs("q", "dead", { limit: 2, cursor: page.nextCursor });
        deadPage = await queue.deadJobs("q", { limit: 2, after: deadSeen.at(-1)! });
      }
      for (const walked of [seen, deadSeen]) {
        assert.deepEqual(walked, [...walked].sort(), "in id order");
        assert.equal(new Set(walked).size, walked.length, "no job twice");
        for (const id of unseen) assert.ok(!walked.includes(id), `removed job ${id} was listed`);
        // Every job that stayed dead all along, in order.
        assert.deepEqual(
          walked.filter((id) => !gone.has(id)),
          sorted.filter((id) => !gone.has(id)),
        );
      }
      await queue.close();
    });

    it("the id order of claimed and dead jobs survives a reopen, with cursors from before it", async () => {
      const opened = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
      const ids = await enqueueMixed(opened.queue);
      const claims = await opened.queue.claimBatch("q", ids.length);
      const sorted = [...ids].sort();
      // Half dead, half still claimed when the writer closes (a checkpoint holds both).
      const deadIds = new Set(sorted.filter((_, i) => i % 2 === 0));
      for (const c of claims) if (deadIds.has(c.id)) await opened.queue.deadLetter(c, "x");
      const firstDead = await opened.queue.listJobs("q", "dead", { limit: 2 });
      await opened.queue.close();

      const reader = await QueueReader.open(opened.store, "q");
      assert.deepEqual(
        reader.listJobs("q", "claimed").jobs.map((j) => j.id),
        sorted.filter((id) => !deadIds.has(id)),
      );
      assert.deepEqual(
        reader.listJobs("q", "dead").jobs.map((j) => j.id),
        sorted.filter((id) => deadIds.has(id)),
      );
      assert.deepEqual(
        reader.deadJobs("q").map((j) => j.id),
        sorted.filter((id) => deadIds.has(id)),
      );

      // The claims of the closed writer end (one attempt each: dead); the order holds.
      const queue = await opened.reopen();
      await queue.flush();
      await until(async () => (await queue.stats("q")).claimed === 0);
      assert.deepEqual(
        (await queue.listJobs("q", "dead")).jobs.map((j) => j.id),
        sorted,
      );
      const rest = await queue.listJobs("q", "dead", { cursor: firstDead.nextCursor! });
      assert.deepEqual(
        rest.jobs.map((j) => j.id),
        sorted.filter((id) => id > firstDead.jobs.at(-1)!.id),
      );
      // And once more after a writer dropped without a close: the dead-letters of the
      // interrupted claims, written since the checkpoint, are replayed from the log.
      const again = await opened.reopen();
      assert.deepEqual(
        (await again.deadJobs("q")).map((j) => j.id),
        sorted,
      );
      await again.close();
    });

    it("a claimed or dead cursor of an earlier release (enqueue order) is refused, saying so", async () => {
      const { queue } = await openOn(kind);
      for (const status of ["claimed", "dead"] as const) {
        const error = await rejection(queue.listJobs("q", status, { cursor: `${status}:0.3` }));
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, /^Expected `options\.cursor` to be a nextCursor of listJobs/);
        assert.match(error.message, /earlier release.*enqueue order/);
        // An id of another status's cursor, or not an id, is refused as any bad cursor.
        const wrong = await rejection(queue.listJobs("q", status, { cursor: "pending:job-a" }));
        assert.equal(wrong.code, "INVALID_ARGUMENT");
        const bad = await rejection(queue.listJobs("q", status, { cursor: `${status}:a b` }));
        assert.equal(bad.code, "INVALID_ARGUMENT");
      }
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
