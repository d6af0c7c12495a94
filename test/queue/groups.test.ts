import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState, stateDigest } from "../reliability/lib/audit.js";
import { openTestQueue, text, turns } from "./helpers.js";

describe("fair groups", { timeout: 60_000 }, () => {
  it("claims rotate round-robin over the groups; a noisy group delays a quiet one by one turn", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueMany(
      "q",
      Array.from({ length: 500 }, (_, i) => ({
        payload: `noisy-${i}`,
        options: { groupKey: "noisy" },
      })),
    );
    await queue.enqueue("q", "quiet-0", { groupKey: "quiet" });
    await queue.enqueue("q", "plain-0");
    const order = (await queue.claimBatch("q", 6)).map((c) => text(c.payload));
    assert.deepEqual(order, ["noisy-0", "quiet-0", "plain-0", "noisy-1", "noisy-2", "noisy-3"]);
    // A quiet job arriving later waits behind at most one job of each other group.
    await queue.enqueue("q", "quiet-1", { groupKey: "quiet" });
    const next = [(await queue.claim("q"))!, (await queue.claim("q"))!].map((c) => text(c.payload));
    assert.ok(next.includes("quiet-1"), next.join());
    assert.equal((await queue.getJob((await queue.claim("q"))!.id))?.groupKey, "noisy");
    // A transaction's enqueue joins its group too.
    const { enqueued } = await queue.transaction((tx) => tx.enqueue("q", "tx", { groupKey: "tx" }));
    assert.equal((await queue.getJob(enqueued[0]!.id))?.groupKey, "tx");
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("within a group, claims keep priority and enqueue order", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "a-low", { groupKey: "a", priority: 5_000 });
    await queue.enqueue("q", "a-high", { groupKey: "a", priority: 10 });
    await queue.enqueue("q", "b-1", { groupKey: "b" });
    const order = (await queue.claimBatch("q", 3)).map((c) => text(c.payload));
    assert.deepEqual(order, ["a-high", "b-1", "a-low"]);
    await queue.close();
  });

  it("groupConcurrency caps claimed jobs per group; a settled claim makes room for a waiting one", async () => {
    const { queue } = await openTestQueue({ queueConfigs: { q: { groupConcurrency: 2 } } });
    for (const g of ["a", "b"])
      await queue.enqueueMany(
        "q",
        Array.from({ length: 5 }, (_, i) => ({ payload: `${g}${i}`, options: { groupKey: g } })),
      );
    await queue.enqueue("q", "free-1");
    await queue.enqueue("q", "free-2");
    await queue.enqueue("q", "free-3");
    const first = await queue.claimBatch("q", 20);
    assert.deepEqual(first.map((c) => text(c.payload)).sort(), [
      "a0",
      "a1",
      "b0",
      "b1",
      "free-1",
      "free-2",
      "free-3",
    ]);
    assert.equal(await queue.claim("q"), null);
    let got: string | null = null;
    const waiting = queue.claim("q", { waitMs: 60_000 }).then((c) => {
      got = c === null ? "none" : text(c.payload);
    });
    await turns();
    assert.equal(got, null);
    await queue.ack(first.find((c) => text(c.payload) === "b0")!);
    await waiting;
    assert.equal(got, "b2");
    const a0 = first.find((c) => text(c.payload) === "a0")!;
    await queue.nack(a0, "again");
    assert.equal((await queue.stats("q")).claimed, 6);
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("a transaction's settlement makes room for a waiting claim; a rate limit does not spin while a group is capped", async () => {
    const { queue } = await openTestQueue({
      queueConfigs: { q: { groupConcurrency: 1, rateLimit: { max: 100, perMs: 1_000 } } },
    });
    await queue.enqueue("q", "a0", { groupKey: "a" });
    await queue.enqueue("q", "a1", { groupKey: "a" });
    const a0 = (await queue.claim("q"))!;
    let got: string | null = null;
    const waiting = queue.claim("q", { waitMs: 60_000 }).then((c) => {
      got = c === null ? "none" : text(c.payload);
    });
    // The window has room, the group has none: the waiter waits (the event loop keeps turning).
    await turns();
    assert.equal(got, null);
    await queue.transaction((tx) => tx.ack(a0));
    await waiting;
    assert.equal(got, "a1");
    await queue.close();
  });

  it("groups are rebuilt after a restart and a takeover, from a checkpoint and from the log", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    await queue.enqueue("q", "plain");
    await queue.enqueueMany(
      "q",
      Array.from({ length: 20 }, (_, i) => ({
        payload: `x${i}`,
        options: { groupKey: i % 2 ? "odd" : "even" },
      })),
    );
    await queue.enqueue("q", "late", { groupKey: "later", delayMs: 1_000 });
    await queue.claimBatch("q", 3);
    const digest = stateDigest(liveState(queue));
    const { queue: taken } = await openTestQueue({}, store, clock);
    assert.deepEqual(auditState(liveState(taken)), []);
    await taken.close();
    await queue.close().catch(() => undefined);
    const { queue: reopened } = await openTestQueue({}, store, clock);
    assert.deepEqual(auditState(liveState(reopened)), []);
    clock.advance(1_000);
    await reopened.promoteScheduledNow();
    assert.deepEqual(auditState(liveState(reopened)), []);
    const claims = await reopened.claimBatch("q", 4);
    assert.equal(
      new Set(claims.map((c) => c.groupKey ?? "")).size,
      4,
      claims.map((c) => c.groupKey).join(),
    );
    assert.notEqual(digest, "");
    await reopened.close();
  });

  it("a queue's first grouped job groups the jobs it held (pending and claimed) as of no key, live and in replay", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    await queue.enqueueMany(
      "q",
      Array.from({ length: 1_500 }, (_, i) => ({
        payload: `plain-${i}`,
        options: { priority: i % 3 === 0 ? 10 : 1_000 },
      })),
    );
    const held = await queue.claimBatch("q", 7);
    await queue.enqueue("q", "first", { groupKey: "g" });
    assert.deepEqual(auditState(liveState(queue)), []);
    const ungrouped = liveState(queue).queues.get("q")!.groups!.byKey.get("")!;
    assert.equal(ungrouped.claimed, 7);
    assert.equal(ungrouped.pending.size, 1_500 - 7);
    const order = (await queue.claimBatch("q", 3)).map((c) => text(c.payload));
    assert.deepEqual(
      order,
      ["plain-21", "first", "plain-24"],
      "round-robin from the first group on",
    );
    await Promise.all(held.map((c) => queue.ack(c)));
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.flush();
    // Replayed from the log by a second writer (no checkpoint of this yet), which then requeues
    // the three claims the first one left: groups in step throughout.
    const { queue: taken } = await openTestQueue({}, store, clock);
    assert.deepEqual(auditState(liveState(taken)), []);
    assert.equal(liveState(taken).queues.get("q")!.groups!.byKey.get("")!.pending.size, 1_500 - 7);
    await taken.close();
    await queue.close().catch(() => undefined);
  });

  it("a bad groupKey or groupConcurrency is refused, naming it", async () => {
    const { queue } = await openTestQueue();
    await assert.rejects(
      queue.enqueue("q", "p", { groupKey: "" }),
      (e: unknown) => e instanceof InvalidArgumentError && /`options\.groupKey`/.test(e.message),
    );
    await assert.rejects(
      queue.enqueue("q", "p", { groupKey: "x".repeat(256) }),
      /`options\.groupKey`/,
    );
    await assert.rejects(queue.enqueue("q", "p", { groupKey: 5 as never }), /`options\.groupKey`/);
    assert.equal((await queue.stats("q")).pending, 0);
    await queue.close();
    await assert.rejects(
      openTestQueue({ defaultQueueConfig: { groupConcurrency: 0 } }),
      /`options\.defaultQueueConfig\.groupConcurrency`/,
    );
  });
});
