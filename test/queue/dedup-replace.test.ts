import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { MemoryStore } from "../../src/store/memory.js";
import { liveState, stateDigest } from "../reliability/lib/audit.js";
import { openTestQueue, text } from "./helpers.js";

describe("debounce: dedupReplace", { timeout: 30_000 }, () => {
  it("replaces a pending job's payload and headers, keeping its id and place", async () => {
    const { queue } = await openTestQueue();
    const first = await queue.enqueue("q", "v1", { dedupKey: "k", headers: { a: "1" } });
    const other = await queue.enqueue("q", "other");
    const again = await queue.enqueue("q", "v2", {
      dedupKey: "k",
      dedupReplace: true,
      headers: { b: "2" },
    });
    assert.equal(again, first);
    const job = await queue.getJob(first);
    assert.equal(text(job!.payload), "v2");
    assert.deepEqual(job!.headers, { b: "2" });
    assert.equal(job!.status, "pending");
    // Without dedupReplace a hit changes nothing.
    await queue.enqueue("q", "v3", { dedupKey: "k" });
    assert.equal(text((await queue.getJob(first))!.payload), "v2");
    assert.equal((await queue.claim("q"))!.id, first);
    assert.equal((await queue.claim("q"))!.id, other);
    // Claimed: the key is free, so the next enqueue is a new job.
    const fresh = await queue.enqueue("q", "v4", { dedupKey: "k", dedupReplace: true });
    assert.notEqual(fresh, first);
    await queue.close();
  });

  it("with delayMs each enqueue pushes the run back; without, a scheduled job runs now", async () => {
    const { queue, clock } = await openTestQueue();
    const t0 = clock.now();
    const id = await queue.enqueue("q", "a", { dedupKey: "d", dedupReplace: true, delayMs: 1_000 });
    clock.advance(600);
    await queue.enqueue("q", "b", { dedupKey: "d", dedupReplace: true, delayMs: 1_000 });
    assert.equal((await queue.getJob(id))!.runAt, t0 + 1_600);
    clock.advance(600); // t0 + 1 200: the first run time passed, the pushed one not
    await queue.promoteScheduledNow();
    assert.equal(await queue.claim("q"), null);
    clock.advance(400);
    await queue.promoteScheduledNow();
    const claim = await queue.claim("q");
    assert.equal(claim?.id, id);
    assert.equal(text(claim!.payload), "b");
    const later = await queue.enqueue("q", "c", {
      dedupKey: "e",
      dedupReplace: true,
      delayMs: 5_000,
    });
    await queue.enqueue("q", "now", { dedupKey: "e", dedupReplace: true });
    const woken = await queue.getJob(later);
    assert.equal(woken!.status, "pending");
    assert.equal(woken!.runAt, undefined);
    assert.equal(text((await queue.claim("q"))!.payload), "now");
    await queue.close();
  });

  it("within one enqueueMany the last job of a key wins", async () => {
    const { queue } = await openTestQueue();
    const results = await queue.enqueueMany("q", [
      { payload: "1", options: { dedupKey: "k" } },
      { payload: "2", options: { dedupKey: "k", dedupReplace: true } },
      { payload: "3", options: { dedupKey: "k" } },
    ]);
    assert.deepEqual(
      results.map((r) => r.created),
      [true, false, false],
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    assert.equal((await queue.stats("q")).pending, 1);
    assert.equal(text((await queue.getJob(results[0]!.id))!.payload), "2");
    await queue.close();
  });

  it("is durable: replayed from the log and from a checkpoint to the same state", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    await queue.enqueue("q", "x".repeat(100), { dedupKey: "k", delayMs: 10_000 });
    await queue.enqueue("q", "y", { dedupKey: "k", dedupReplace: true, headers: { h: "v" } });
    await queue.enqueue("q", "z", { dedupKey: "k2" });
    await queue.enqueue("q", "zz", { dedupKey: "k2", dedupReplace: true, delayMs: 3_000 });
    const digest = stateDigest(liveState(queue));
    // A second process takes over: it replays the records (no checkpoint yet).
    const { queue: taken } = await openTestQueue({}, store, clock);
    assert.equal(stateDigest(liveState(taken)), digest);
    await taken.close();
    await queue.close().catch(() => undefined);
    const { queue: reopened } = await openTestQueue({}, store, clock);
    assert.equal(stateDigest(liveState(reopened)), digest);
    await reopened.close();
  });

  it("a debounce keeps an offloaded payload offloaded: the job takes the new object, the old one is deleted", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue({ payloadOffloadBytes: 16 }, store);
    const keys = async () => (await store.list("q/payload/")).objects.map((o) => o.key);
    const settle = async (count: number) => {
      for (let i = 0; i < 5 && (await keys()).length !== count; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      return keys();
    };
    const id = await queue.enqueue("q", "a".repeat(100), { dedupKey: "k" });
    const [old] = await keys();
    await queue.enqueue("q", "b".repeat(100), { dedupKey: "k", dedupReplace: true });
    await queue.flush();
    const ref = (await queue.getJob(id))?.payloadRef;
    assert.ok(ref !== undefined && ref !== old, "the job references a new object");
    assert.deepEqual(await settle(1), [ref], "the replaced payload's object is gone");
    const claim = await queue.claim("q");
    assert.equal(claim?.id, id);
    assert.equal(text(claim!.payload), "b".repeat(100));
    // Within one call, the later payload (offloaded too) replaces the earlier one's object.
    const [first] = await queue.enqueueMany("q", [
      { payload: "c".repeat(100), options: { dedupKey: "m" } },
      { payload: "d".repeat(100), options: { dedupKey: "m", dedupReplace: true } },
    ]);
    assert.equal((await settle(2)).length, 2, "the claimed job's and the new job's");
    assert.equal(text((await queue.claim("q"))!.payload), "d".repeat(100));
    assert.equal((await queue.getJob(first!.id))?.status, "claimed");
    // A small replacement goes inline, and the object it replaced goes.
    const small = await queue.enqueue("q", "e".repeat(100), { dedupKey: "s" });
    await queue.enqueue("q", "tiny", { dedupKey: "s", dedupReplace: true });
    assert.equal((await queue.getJob(small))?.payloadRef, undefined);
    assert.equal((await settle(2)).length, 2);
    assert.equal(text((await queue.getJob(small))!.payload), "tiny");
    await queue.close();
  });

  it("dedupReplace needs a dedupKey and a boolean", async () => {
    const { queue } = await openTestQueue();
    await assert.rejects(
      queue.enqueue("q", "p", { dedupReplace: true }),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /`options\.dedupReplace`/.test(e.message),
    );
    await assert.rejects(
      queue.enqueue("q", "p", { dedupKey: "k", dedupReplace: "yes" as never }),
      /`options\.dedupReplace` to be a boolean/,
    );
    assert.equal((await queue.stats("q")).pending, 0);
    await queue.close();
  });
});
