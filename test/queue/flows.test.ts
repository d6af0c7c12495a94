import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DuplicateJobIdError, InvalidArgumentError } from "../../src/errors.js";
import { QueueReader } from "../../src/queue/reader.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState, stateDigest } from "../reliability/lib/audit.js";
import { followingId, mustClaim, openTestQueue, rejection, text } from "./helpers.js";

const ORDER = {
  queue: "notify",
  payload: "order-1",
  children: [
    { queue: "ship", payload: "order-1", children: [{ queue: "charge", payload: "order-1" }] },
    { queue: "invoice", payload: "order-1" },
  ],
};

describe("flows", { timeout: 60_000 }, () => {
  it("a parent is claimable only once its children are done; it reads their results", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    const flow = await queue.enqueueFlow(ORDER);
    assert.equal(flow.children.length, 2);
    const [ship, invoice] = flow.children;
    const charge = ship!.children[0]!;
    const parent = await queue.getJob(flow.id);
    assert.deepEqual(
      [parent?.status, parent?.runAt, parent?.waitingChildren],
      ["scheduled", undefined, 2],
    );
    assert.equal(await queue.claim("notify"), null);
    assert.equal(await queue.claim("ship"), null);
    assert.equal(await queue.wakeScheduled(flow.id), "not_scheduled");
    await queue.promoteScheduledNow();
    assert.equal(await queue.claim("notify"), null);

    const c = await mustClaim(queue, "charge");
    assert.equal(c.id, charge.id);
    await queue.ack(c, { result: "charged 42" });
    const s = await mustClaim(queue, "ship");
    assert.deepEqual(await queue.childResults(ship!.id), {
      [charge.id]: Buffer.from("charged 42"),
    });
    await queue.ack(s, { result: "tracking 7" });
    assert.equal(await queue.claim("notify"), null, "invoice is not done yet");
    // Crash here and reopen from the log: the flow goes on where it was.
    const reopened = (await openTestQueue({}, store, clock)).queue;
    assert.equal((await reopened.getJob(flow.id))?.waitingChildren, 1);
    const i = await mustClaim(reopened, "invoice");
    await reopened.ack(i);
    const n = await mustClaim(reopened, "notify");
    assert.equal(n.id, flow.id);
    const results = await reopened.childResults(flow.id);
    assert.deepEqual(Object.keys(results).sort(), [invoice!.id, ship!.id].sort());
    assert.equal(text(results[ship!.id]!), "tracking 7");
    assert.equal(results[invoice!.id], undefined);
    await reopened.close();
    // After a checkpoint too, and through a reader.
    const reader = await QueueReader.open(store, "q");
    assert.equal(text(reader.childResults(flow.id)[ship!.id]!), "tracking 7");
  });

  it("a takeover by another writer carries flows on; the fenced writer changes nothing", async () => {
    const store = new MemoryStore();
    const first = await openTestQueue({}, store);
    const flow = await first.queue.enqueueFlow({
      queue: "p",
      payload: "x",
      children: [
        { queue: "c", payload: "1" },
        { queue: "c", payload: "2" },
      ],
    });
    await first.queue.ack(await mustClaim(first.queue, "c"), { result: "one" });
    const stale = await mustClaim(first.queue, "c");
    const second = await openTestQueue({}, store, first.clock);
    const fenced = await rejection(first.queue.ack(stale, { result: "from the old writer" }));
    assert.equal(fenced.code, "FENCED");
    assert.equal((await second.queue.getJob(flow.id))?.waitingChildren, 1);
    // The claim the fenced writer held was requeued by the takeover.
    await second.queue.ack(await mustClaim(second.queue, "c"), { result: "two" });
    const parent = await mustClaim(second.queue, "p");
    assert.deepEqual(
      Object.values(await second.queue.childResults(parent.id))
        .map((r) => text(r!))
        .sort(),
      ["one", "two"],
    );
    await second.queue.close();
  });

  it("a dead child makes the parent dead (naming the child), up the flow", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const flow = await queue.enqueueFlow(ORDER);
    const charge = flow.children[0]!.children[0]!;
    const c = await mustClaim(queue, "charge");
    await queue.nack(c, "card declined");
    const ship = await queue.getJob(flow.children[0]!.id);
    assert.equal(ship?.status, "dead");
    assert.equal(ship?.lastError, `child ${charge.id} failed: card declined`);
    const root = await queue.getJob(flow.id);
    assert.equal(root?.status, "dead");
    assert.equal(
      root?.lastError,
      `child ${flow.children[0]!.id} failed: child ${charge.id} failed: card declined`,
    );
    // The other child still runs; its end changes nothing for the dead parent.
    await queue.ack(await mustClaim(queue, "invoice"));
    assert.equal((await queue.getJob(flow.id))?.status, "dead");
    assert.deepEqual(auditState(liveState(queue)), []);
    // Flow extras (parents, children, results) round-trip through a checkpoint.
    const live = liveState(queue);
    assert.equal(stateDigest(decodeSnapshot(encodeSnapshot(live))), stateDigest(live));
    await queue.close();
  });

  it("a dead child ends the waits on its parents as dead and emits their dead events", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const flow = await queue.enqueueFlow(ORDER);
    const ship = flow.children[0]!;
    const charge = ship.children[0]!;
    const dead: { id: string; queue: string; error: string }[] = [];
    queue.on("dead", (e) => dead.push({ id: e.id, queue: e.queue, error: e.error }));
    const rootWait = queue.waitForCompletion(flow.id);
    const shipWait = queue.waitForCompletion(ship.id);
    await queue.nack(await mustClaim(queue, "charge"), "card declined");
    const shipError = `child ${charge.id} failed: card declined`;
    const rootError = `child ${ship.id} failed: ${shipError}`;
    const timeout = new Promise<string>((resolve) =>
      setTimeout(() => resolve("still waiting"), 2_000),
    );
    assert.deepEqual(await Promise.race([shipWait, timeout]), { status: "dead", error: shipError });
    assert.deepEqual(await Promise.race([rootWait, timeout]), { status: "dead", error: rootError });
    assert.deepEqual(dead, [
      { id: charge.id, queue: "charge", error: "card declined" },
      { id: ship.id, queue: "ship", error: shipError },
      { id: flow.id, queue: "notify", error: rootError },
    ]);
    assert.equal((await queue.getJob(flow.id))?.lastError, rootError, "as the state has it");
    await queue.close();
  });

  it("cancelling a waiting parent cancels its children that have not ended", async () => {
    const { queue } = await openTestQueue();
    const flow = await queue.enqueueFlow(ORDER);
    await queue.ack(await mustClaim(queue, "invoice"));
    const charge = await mustClaim(queue, "charge");
    const signal = queue.claimSignal(charge);
    assert.equal(await queue.cancel(flow.id), "removed");
    assert.equal(await queue.getJob(flow.id), null);
    assert.equal(await queue.getJob(flow.children[0]!.id), null);
    assert.equal(signal.aborted, true);
    assert.equal((await queue.getJob(charge.id))?.status, "claimed");
    await queue.nack(charge, "cancelled");
    assert.equal(await queue.getJob(charge.id), null);
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("tx.cancel of a waiting parent cancels its children too, after a reopen as well", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    const flow = await queue.enqueueFlow(ORDER);
    const [ship, invoice] = flow.children;
    const charge = await mustClaim(queue, "charge");
    const signal = queue.claimSignal(charge);
    const result = await queue.transaction((tx) => tx.cancel(flow.id));
    assert.deepEqual(result.cancelled, ["removed"]);
    for (const id of [flow.id, ship!.id, invoice!.id]) assert.equal(await queue.getJob(id), null);
    assert.equal(signal.aborted, true);
    await queue.nack(charge, "cancelled");
    assert.equal(await queue.getJob(charge.id), null);
    assert.deepEqual(auditState(liveState(queue)), []);
    const before = stateDigest(liveState(queue));
    await queue.close();
    const reopened = (await openTestQueue({}, store, clock)).queue;
    assert.equal(stateDigest(liveState(reopened)), before);
    assert.deepEqual(auditState(liveState(reopened)), []);
    await reopened.close();
  });

  it("a claim waiting on the parent's queue gets the parent once its last child ends", async () => {
    const { queue } = await openTestQueue();
    const flow = await queue.enqueueFlow({
      queue: "parent",
      payload: "p",
      children: [
        { queue: "child", payload: "1" },
        { queue: "child", payload: "2", options: { jobId: "two" } },
      ],
    });
    let got: string | null = null;
    const waiting = queue.claim("parent", { waitMs: 60_000 }).then((c) => {
      got = c === null ? "none" : c.id;
    });
    await queue.ack(await mustClaim(queue, "child"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(got, null);
    // The last child ends by a cancel: the parent is served at once.
    assert.equal(await queue.cancel("two"), "removed");
    await waiting;
    assert.equal(got, flow.id);
    await queue.close();
  });

  it("settling a child and cancelling its waiting parent in one transaction is refused in either order", async () => {
    // The cancel would cancel the child too; and the settlement could end or wake the parent
    // first (a dead child makes it dead, the last acked one pending), so the pair has no
    // outcome that reads the statuses as they were before the transaction.
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const flow = await queue.enqueueFlow(ORDER);
    const charge = await mustClaim(queue, "charge");
    const before = stateDigest(liveState(queue));
    const settles: [
      string,
      (tx: Parameters<Parameters<typeof queue.transaction>[0]>[0]) => void,
    ][] = [
      ["ack", (tx) => tx.ack(charge, { result: "r" })],
      ["nack", (tx) => tx.nack(charge, "out of attempts: dead")],
      ["deadLetter", (tx) => tx.deadLetter(charge, "declined")],
    ];
    const also = `tx.cancel of flow parent ${flow.id}, which would also cancel ${charge.id}`;
    for (const [kind, settle] of settles) {
      const settleFirst = await rejection(
        queue.transaction((tx) => {
          settle(tx);
          tx.cancel(flow.id);
          tx.kvPut("order-1", "failed");
        }),
      );
      assert.ok(settleFirst instanceof InvalidArgumentError, String(settleFirst));
      assert.equal(
        settleFirst.message,
        `Expected \`build\` to be a function that acts on each job once per transaction, got job ${charge.id} in operation 0 (tx.${kind}) and operation 1 (${also})`,
      );
      const cancelFirst = await rejection(
        queue.transaction((tx) => {
          tx.cancel(flow.id);
          settle(tx);
        }),
      );
      assert.ok(cancelFirst instanceof InvalidArgumentError, String(cancelFirst));
      assert.equal(
        cancelFirst.message,
        `Expected \`build\` to be a function that acts on each job once per transaction, got job ${charge.id} in operation 0 (${also}) and operation 1 (tx.${kind})`,
      );
      assert.equal(stateDigest(liveState(queue)), before);
    }
    // The ship job between them is a waiting parent too: its cancel is refused the same way.
    const viaShip = await rejection(
      queue.transaction((tx) => {
        tx.deadLetter(charge, "declined");
        tx.cancel(flow.children[0]!.id);
      }),
    );
    assert.match(
      viaShip.message,
      new RegExp(`got job ${charge.id} in operation 0 \\(tx.deadLetter\\)`),
    );
    // In two transactions each is decided on its own: the dead child makes the parent dead,
    // and the cancel then finds it ended.
    await queue.deadLetter(charge, "declined");
    assert.equal((await queue.getJob(flow.id))?.status, "dead");
    assert.deepEqual(await queue.transaction((tx) => tx.cancel(flow.id)), {
      enqueued: [],
      cancelled: ["not_found"],
    });
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("a cancelled child counts as ended (no result): the parent goes on", async () => {
    const { queue } = await openTestQueue();
    const flow = await queue.enqueueFlow({
      queue: "p",
      payload: "x",
      children: [
        { queue: "c", payload: "1" },
        { queue: "c", payload: "2", options: { jobId: "second" } },
      ],
    });
    assert.equal(await queue.cancel("second"), "removed");
    await queue.ack(await mustClaim(queue, "c"));
    const parent = await mustClaim(queue, "p");
    assert.deepEqual(await queue.childResults(parent.id), {
      [flow.children[0]!.id]: undefined,
      second: undefined,
    });
    await queue.close();
  });

  it("refuses bad flows with typed errors, writing nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("x", "taken", { jobId: "taken" });
    const digest = stateDigest(liveState(queue));
    const cases: [unknown, RegExp, typeof InvalidArgumentError | typeof DuplicateJobIdError][] = [
      [null, /^Expected `flow` to be an object/, InvalidArgumentError],
      [{ queue: "", payload: "x" }, /^Expected `flow.queue`/, InvalidArgumentError],
      [
        { queue: "a", payload: "x", children: [{ queue: "b", payload: 5 }] },
        /^Expected `flow.children\[0\].payload`/,
        InvalidArgumentError,
      ],
      [
        { queue: "a", payload: "x", children: "no" },
        /^Expected `flow.children` to be an array/,
        InvalidArgumentError,
      ],
      [
        { queue: "a", payload: "x", options: { dedupKey: "d" } },
        /^Expected `flow.options.dedupKey` to be absent/,
        InvalidArgumentError,
      ],
      [
        {
          queue: "a",
          payload: "x",
          options: { delayMs: 5 },
          children: [{ queue: "b", payload: "y" }],
        },
        /^Expected `flow.options.delayMs` to be absent on a job with children/,
        InvalidArgumentError,
      ],
      [
        {
          queue: "a",
          payload: "x",
          children: [{ queue: "b", payload: "y", options: { jobId: "taken" } }],
        },
        /jobId` to be an id no job has, got "taken"/,
        DuplicateJobIdError,
      ],
      [
        {
          queue: "a",
          payload: "x",
          options: { jobId: "same" },
          children: [{ queue: "b", payload: "y", options: { jobId: "same" } }],
        },
        /taken earlier in this flow/,
        DuplicateJobIdError,
      ],
    ];
    for (const [flow, message, type] of cases) {
      const error = await rejection(queue.enqueueFlow(flow as never));
      assert.ok(error instanceof type, String(error));
      assert.match(error.message, message);
      assert.equal(stateDigest(liveState(queue)), digest);
    }
    await queue.close();
  });

  it("a leaf flow is a plain job; results survive the children's retention", async () => {
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { resultRetentionMs: 1_000, keepDoneJobsMs: null },
    });
    const leaf = await queue.enqueueFlow({ queue: "a", payload: "x" });
    assert.deepEqual(leaf.children, []);
    assert.equal((await queue.getJob(leaf.id))?.status, "pending");
    const flow = await queue.enqueueFlow({
      queue: "p",
      payload: "x",
      children: [{ queue: "c", payload: "1" }],
    });
    await queue.ack(await mustClaim(queue, "c"), { result: "kept" });
    clock.advance(10_000);
    await queue.reapNow();
    assert.equal(await queue.getJob(flow.children[0]!.id), null, "the child itself is gone");
    const parent = await mustClaim(queue, "p");
    assert.equal(text((await queue.childResults(parent.id))[flow.children[0]!.id]!), "kept");
    assert.deepEqual(await queue.childResults("unknown"), {});
    await queue.close();
  });

  it('lists a child whose jobId is "__proto__" among the results, as an own entry', async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue({}, store);
    const flow = await queue.enqueueFlow({
      queue: "p",
      payload: "x",
      children: [
        { queue: "c", payload: "1", options: { jobId: "__proto__" } },
        { queue: "c", payload: "2", options: { jobId: "other" } },
      ],
    });
    await queue.ack(await mustClaim(queue, "c"), { result: "from proto" });
    await queue.ack(await mustClaim(queue, "c"), { result: "from other" });
    const check = (results: Record<string, Uint8Array | undefined>): void => {
      assert.deepEqual(Object.keys(results).sort(), ["__proto__", "other"]);
      assert.equal(Object.getPrototypeOf(results), Object.prototype);
      assert.deepEqual(
        Object.values(results)
          .map((r) => text(r!))
          .sort(),
        ["from other", "from proto"],
      );
    };
    check(await queue.childResults(flow.id));
    await queue.close();
    check((await QueueReader.open(store, "q")).childResults(flow.id));
  });
});

describe("flows and a jobId spelt like an id the generator has yet to issue", () => {
  it("a parent added before its child does not get the child's jobId generated", async () => {
    const { queue } = await openTestQueue();
    const a = await queue.enqueue("q", "first");
    const taken = followingId(a);
    const flow = await queue.enqueueFlow({
      queue: "q",
      payload: "parent",
      children: [{ queue: "q", payload: "child", options: { jobId: taken } }],
    });
    assert.equal(flow.children[0]!.id, taken);
    assert.notEqual(flow.id, taken);
    assert.equal(text((await queue.getJob(flow.id))!.payload), "parent");
    assert.equal(text((await queue.getJob(taken))!.payload), "child");
    assert.equal(text((await mustClaim(queue, "q")).payload), "first");
    assert.equal(text((await mustClaim(queue, "q")).payload), "child");
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });
});
