/**
 * A flow holds its caller `jobId`s from its call until it settles, but a
 * hold never answers for it: a call made meanwhile with one of those ids
 * (a transaction, `enqueue`, `enqueueMany`, a later flow) waits for the flow
 * to settle and then decides — taken if the flow committed, free if it
 * failed — so no caller is told of a job that never exists.
 */
import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { describe, it } from "node:test";
import { ClosedError, DuplicateJobIdError } from "../../src/errors.js";
import { PendingFlowJobIds } from "../../src/queue/flow-job-ids.js";
import type { FlowJob } from "../../src/queue/flows.js";
import { State } from "../../src/queue/state.js";
import type { ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { bigFlow } from "./flow-fixtures.js";
import {
  memoryAndFileStores,
  mustClaim,
  openTestQueue,
  rejection,
  setSliceMs,
  turns,
  watch,
} from "./helpers.js";

/** `bigFlow` with an invalid queue name on its last leaf: refused only once its check reaches it. */
function failingFlow(parents: number, children: number, rootJobId: string): FlowJob {
  const flow = bigFlow(parents, children, rootJobId);
  (flow.children![parents - 1]!.children![children - 1] as { queue: unknown }).queue = 42;
  return flow;
}

/** How many promises `fn` made: a count of the work it did, not its time on this machine. */
function promisesMadeBy(fn: () => void): number {
  let made = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === "PROMISE") made++;
    },
  });
  hook.enable();
  try {
    fn();
  } finally {
    hook.disable();
  }
  return made;
}

/** Live state sound, replay and a reopen (after a checkpoint at close) equal to it. */
async function assertDurable(
  queue: Awaited<ReturnType<typeof openTestQueue>>["queue"],
  store: ObjectStore,
  clock: Awaited<ReturnType<typeof openTestQueue>>["clock"],
): Promise<void> {
  assert.deepEqual(auditState(liveState(queue)), []);
  const live = stateDigest(liveState(queue));
  assert.equal(stateDigest(await replayedState(store, "q")), live, "replay");
  await queue.close();
  const reopened = (await openTestQueue({}, store, clock)).queue;
  assert.equal(stateDigest(liveState(reopened)), live, "reopen");
  await reopened.close();
}

describe("jobIds held by a flow not settled yet", { timeout: 120_000 }, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-flow-job-ids-")) {
    it(`${name}: a transaction waits for a flow that fails, then creates the job`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      const flow = rejection(queue.enqueueFlow(failingFlow(2, 200, "held")));
      const tx = queue.transaction((t) => {
        t.enqueue("other", "mine", { jobId: "held" });
      });
      const txSettled = watch(tx);
      await turns(3);
      assert.equal(txSettled.settled(), false, "waits while the flow is prepared");
      assert.equal((await flow).code, "INVALID_ARGUMENT");
      assert.deepEqual((await tx).enqueued, [{ id: "held", created: true }]);
      assert.equal((await queue.getJob("held"))?.queue, "other");
      assert.equal((await queue.stats("leaf")).pending, 0);
      await assertDurable(queue, store, clock);
    });

    it(`${name}: enqueue and enqueueMany wait for a flow that fails, then add their jobs`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      const flow = rejection(queue.enqueueFlow(failingFlow(2, 200, "a")));
      const other = rejection(queue.enqueueFlow(failingFlow(2, 200, "b")));
      const one = queue.enqueue("other", "1", { jobId: "a" });
      const many = queue.enqueueMany("other", [
        { payload: "2", options: { jobId: "b" } },
        { payload: "3" },
      ]);
      assert.equal((await flow).code, "INVALID_ARGUMENT");
      assert.equal((await other).code, "INVALID_ARGUMENT");
      assert.equal(await one, "a");
      assert.equal((await many)[0]!.id, "b");
      assert.equal((await queue.getJob("a"))?.queue, "other");
      assert.equal((await queue.getJob("b"))?.queue, "other");
      assert.equal((await queue.stats("other")).pending, 3);
      await assertDurable(queue, store, clock);
    });

    it(`${name}: after a flow that commits, the waiting calls find the id taken`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      const flow = queue.enqueueFlow(bigFlow(2, 200, "won"));
      const tx = queue.transaction((t) => {
        t.enqueue("other", "x", { jobId: "won" });
        t.enqueue("other", "y", { jobId: "free" });
      });
      const one = rejection(queue.enqueue("other", "z", { jobId: "won" }));
      const many = rejection(
        queue.enqueueMany("other", [{ payload: "w", options: { jobId: "won" } }]),
      );
      const later = rejection(queue.enqueueFlow(bigFlow(1, 10, "won")));
      assert.equal((await flow).id, "won");
      assert.deepEqual((await tx).enqueued, [
        { id: "won", created: false },
        { id: "free", created: true },
      ]);
      assert.ok((await one) instanceof DuplicateJobIdError);
      assert.ok((await many) instanceof DuplicateJobIdError);
      assert.ok((await later) instanceof DuplicateJobIdError);
      assert.equal((await queue.getJob("won"))?.queue, "root");
      assert.equal((await queue.stats("other")).pending, 1);
      await assertDurable(queue, store, clock);
    });

    it(`${name}: ids go in call order across flows that fail and flows and calls that wait`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      // A (long, fails late) holds x; B (short, fails at once) holds x; C, a flow after
      // them, waits for both and gets x; D, a transaction after C, finds x taken by C.
      const a = rejection(queue.enqueueFlow(failingFlow(3, 200, "x")));
      const b = rejection(queue.enqueueFlow(failingFlow(1, 1, "x")));
      const c = queue.enqueueFlow(bigFlow(1, 5, "x"));
      const d = queue.transaction((t) => {
        t.enqueue("other", "d", { jobId: "x" });
      });
      assert.equal((await b).code, "INVALID_ARGUMENT");
      await turns(3);
      assert.equal(watch(d).settled(), false, "D still waits for A (and C)");
      assert.equal((await a).code, "INVALID_ARGUMENT");
      assert.equal((await c).id, "x");
      assert.deepEqual((await d).enqueued, [{ id: "x", created: false }]);
      // A transaction waiting for a flow holds its ids for later calls too.
      const e = rejection(queue.enqueueFlow(failingFlow(2, 200, "y")));
      const f = queue.transaction((t) => {
        t.enqueue("other", "f", { jobId: "y" });
      });
      const g = rejection(queue.enqueue("other", "g", { jobId: "y" }));
      assert.equal((await e).code, "INVALID_ARGUMENT");
      assert.deepEqual((await f).enqueued, [{ id: "y", created: true }]);
      assert.ok((await g) instanceof DuplicateJobIdError);
      assert.equal((await queue.getJob("y"))?.payload.toString(), "f");
      await assertDurable(queue, store, clock);
    });

    it(`${name}: a call waiting on a held id keeps no plain enqueue from committing in its own turn`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      await queue.enqueue("plain", "0");
      const pending = liveState(queue).queues.get("plain")!.pending;
      setSliceMs(queue, 0);
      const flow = rejection(queue.enqueueFlow(failingFlow(2, 200, "a")));
      const one = queue.enqueue("other", "1", { jobId: "a" });
      const many = rejection(
        queue.enqueueMany("other", [{ payload: "2", options: { jobId: "a" } }]),
      );
      const oneSettled = watch(one);
      await turns(2);
      assert.equal(oneSettled.settled(), false, "waits while the flow is prepared");
      const plain = queue.enqueue("plain", "1");
      assert.equal(pending.size, 2, "applied in the caller's turn");
      await plain;
      assert.equal((await flow).code, "INVALID_ARGUMENT");
      assert.equal(await one, "a");
      assert.ok((await many) instanceof DuplicateJobIdError);
      // Woken and on its way to its commit, a call still goes before the plain calls after it.
      const flow2 = rejection(queue.enqueueFlow(failingFlow(1, 200, "b")));
      const two = queue.enqueue("plain", "2", { jobId: "b" });
      assert.equal((await flow2).code, "INVALID_ARGUMENT");
      const three = queue.enqueue("plain", "3");
      assert.equal(await two, "b");
      await three;
      const order: string[] = [];
      for (
        let claim = await queue.claim("plain");
        claim !== null;
        claim = await queue.claim("plain")
      ) {
        order.push(claim.payload.toString());
        await queue.ack(claim);
      }
      assert.deepEqual(order, ["0", "1", "2", "3"]);
      await assertDurable(queue, store, clock);
    });

    it(`${name}: a transaction settling a claim waits only when it enqueues a held id`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      await queue.enqueue("work", "a");
      await queue.enqueue("work", "b");
      const first = await mustClaim(queue, "work");
      const second = await mustClaim(queue, "work");
      setSliceMs(queue, 0);
      const flow = rejection(queue.enqueueFlow(failingFlow(2, 200, "z")));
      const flowSettled = watch(flow);
      // An ack in a transaction with no held id commits while the flow is still prepared
      // (on a MemoryStore, whose writes take no time; a FileStore's fsync may outlast it).
      await queue.transaction((t) => {
        t.ack(first);
        t.enqueue("other", "free", { jobId: "not-held" });
      });
      if (name === "MemoryStore") assert.equal(flowSettled.settled(), false);
      const tx = await queue.transaction((t) => {
        t.ack(second);
        t.enqueue("other", "z", { jobId: "z" });
      });
      assert.equal((await flow).code, "INVALID_ARGUMENT");
      assert.deepEqual(tx.enqueued, [{ id: "z", created: true }]);
      assert.equal((await queue.stats("work")).claimed, 0);
      await assertDurable(queue, store, clock);
    });

    it(`${name}: a transaction settling a claim that waits on a held id past the lease writes nothing`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      await queue.enqueue("work", "a");
      const claim = await mustClaim(queue, "work", 1000);
      setSliceMs(queue, 0);
      const flow = rejection(queue.enqueueFlow(failingFlow(8, 500, "z")));
      const flowSettled = watch(flow);
      const tx = rejection(
        queue.transaction((t) => {
          t.ack(claim);
          t.enqueue("other", "z", { jobId: "z" });
        }),
      );
      await turns(2);
      assert.equal(flowSettled.settled(), false, "the transaction still waits");
      clock.advance(5000); // the wait has no bound against the lease: it ends meanwhile
      const again = await mustClaim(queue, "work", 1000);
      assert.equal(again.id, claim.id);
      assert.equal((await flow).code, "INVALID_ARGUMENT");
      assert.equal((await tx).code, "CLAIM_LOST");
      assert.equal(await queue.getJob("z"), null);
      await queue.ack(again);
      await assertDurable(queue, store, clock);
    });

    it(`${name}: a flow failing at close rejects the calls waiting for it; no job is acknowledged`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      const flow = rejection(queue.enqueueFlow(bigFlow(2, 300, "held2")));
      const tx = rejection(
        queue.transaction((t) => {
          t.enqueue("other", "mine", { jobId: "held2" });
        }),
      );
      const one = rejection(queue.enqueue("other", "1", { jobId: "held2" }));
      await turns(2);
      await queue.close();
      assert.ok((await flow) instanceof ClosedError, String(await flow));
      assert.ok((await tx) instanceof ClosedError, String(await tx));
      assert.ok((await one) instanceof ClosedError, String(await one));
      const reopened = (await openTestQueue({}, store, clock)).queue;
      assert.equal(await reopened.getJob("held2"), null);
      assert.equal((await reopened.stats("leaf")).pending, 0);
      await reopened.close();
    });

    it(`${name}: a flow failing by a takeover rejects the calls waiting for it`, async () => {
      const store = await makeStore();
      const faults = new FaultStore(store);
      const first = await openTestQueue({}, faults);
      setSliceMs(first.queue, 0);
      // The flow's record is held on its way to the store until the second writer opened:
      // the flow cannot be durable before the takeover, however fast it is prepared.
      const walWrite = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const flow = rejection(first.queue.enqueueFlow(bigFlow(2, 200, "held3")));
      const tx = rejection(
        first.queue.transaction((t) => {
          t.enqueue("other", "mine", { jobId: "held3" });
        }),
      );
      await turns(2);
      assert.equal(watch(tx).settled(), false, "the transaction waits for the flow");
      const second = await openTestQueue({}, store, first.clock);
      walWrite.release();
      const flowError = await flow;
      const txError = await tx;
      assert.equal(flowError.code, "FENCED", String(flowError));
      assert.equal(txError.code, "FENCED", String(txError));
      assert.equal(await second.queue.getJob("held3"), null);
      assert.equal(
        stateDigest(await replayedState(store, "q")),
        stateDigest(liveState(second.queue)),
      );
      await first.queue.close().catch(() => {});
      await second.queue.close();
    });
  }

  it("thousands of calls waiting on one held id: each costs the same few promises", async () => {
    const { queue, clock, store } = await openTestQueue();
    setSliceMs(queue, 0);
    const flow = rejection(queue.enqueueFlow(failingFlow(4, 500, "a")));
    const k = 3000;
    const calls: Promise<string | Error>[] = [];
    // A producer retrying `enqueue(…, { jobId })` while the flow holds it. Each call's hold
    // waits on one promise per id, not on every call before it (k²/2 promises: 4.5 million).
    const made = promisesMadeBy(() => {
      for (let i = 0; i < k; i++)
        calls.push(
          queue.enqueue("other", `${i}`, { jobId: "a" }).then(
            (id) => id,
            (error: Error) => error,
          ),
        );
    });
    assert.ok(made < 40 * k, `${made} promises for ${k} calls`);
    assert.equal((await flow).code, "INVALID_ARGUMENT");
    const settled = await Promise.all(calls);
    assert.equal(settled[0], "a");
    for (const result of settled.slice(1)) assert.ok(result instanceof DuplicateJobIdError);
    assert.equal((await queue.getJob("a"))?.payload.toString(), "0");
    await assertDurable(queue, store, clock);
  });

  it("a hold waits for every earlier hold of its ids, also one that settles after a later one", async () => {
    const held = new PendingFlowJobIds();
    const state = new State();
    const a = held.holdFlow(["x"], state); // a long flow
    const b = held.holdFlow(["x", "y"], state); // a flow that fails at once: settles before `a`
    assert.ok(b.earlier !== undefined);
    held.release(b.hold);
    const c = held.holdIfHeld(["y", "x"]);
    assert.ok(c?.earlier !== undefined);
    const cWoke = watch(c.earlier);
    await turns(2);
    assert.equal(cWoke.settled(), false, "`a` still holds x");
    held.release(a.hold);
    await c.earlier;
    const d = held.holdIfHeld(["x"]);
    assert.ok(d?.earlier !== undefined, "`c` holds x until it settles");
    held.release(c.hold);
    await d.earlier;
    held.release(d.hold);
    assert.equal(held.size, 0);
  });

  it("holds of one id: O(1) promises each, and each wakes once the ones before it settled", async () => {
    const held = new PendingFlowJobIds();
    const flow = held.holdFlow(["a"], new State());
    const k = 2000;
    const waiting: NonNullable<ReturnType<PendingFlowJobIds["holdIfHeld"]>>[] = [];
    const made = promisesMadeBy(() => {
      for (let i = 0; i < k; i++) waiting.push(held.holdIfHeld(["a"])!);
    });
    assert.ok(made <= 8 * k, `${made} promises for ${k} holds`);
    const woke: number[] = [];
    waiting.forEach((w, i) => {
      void w.earlier!.then(() => {
        woke.push(i);
        held.release(w.hold);
      });
    });
    await turns(2);
    assert.deepEqual(woke, []);
    held.release(flow.hold);
    await waiting[k - 1]!.hold.settled;
    assert.deepEqual(
      woke,
      Array.from({ length: k }, (_, i) => i),
    );
    assert.equal(held.size, 0);
  });

  it("a call with no caller jobId, or none held, takes no hold", () => {
    const held = new PendingFlowJobIds();
    assert.equal(held.holdIfHeld(["a"]), undefined);
    const flow = held.holdFlow(["a", "b", "a"], new State());
    assert.equal(flow.earlier, undefined);
    assert.equal(held.size, 2);
    assert.equal(held.holdIfHeld([]), undefined);
    assert.equal(held.holdIfHeld(["c"]), undefined);
    const waiting = held.holdIfHeld(["c", "a"]);
    assert.ok(waiting?.earlier !== undefined);
    held.release(flow.hold);
    held.release(waiting.hold);
    assert.equal(held.size, 0);
  });
});
