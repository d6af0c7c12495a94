/**
 * A flow is checked, decided and encoded in slices of the event loop before
 * the turn that commits it: whatever the state does meanwhile, the flow is
 * still added whole or refused with nothing written, and its one record
 * applies the same live, at replay and after a checkpoint.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DuplicateJobIdError } from "../../src/errors.js";
import { ByteWriter } from "../../src/queue/binary.js";
import type { FlowJob } from "../../src/queue/flows.js";
import {
  encodeRecord,
  writeTransactionHead,
  writeTransactionOp,
} from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { TransactionRecord } from "../../src/queue/records/transaction.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { memoryAndFileStores, mustClaim, openTestQueue, setSliceMs } from "./helpers.js";

/** A root with `parents` parents of `children` children each: 1 + parents × (1 + children) jobs. */
function bigFlow(parents: number, children: number, rootJobId?: string): FlowJob {
  return {
    queue: "root",
    payload: "r",
    ...(rootJobId === undefined ? {} : { options: { jobId: rootJobId } }),
    children: Array.from({ length: parents }, (_, p) => ({
      queue: "mid",
      payload: `m${p}`,
      children: Array.from({ length: children }, (_, c) => ({
        queue: "leaf",
        payload: `l${p}.${c}`,
      })),
    })),
  };
}

/** Resolves after `n` turns of the event loop. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("flow commit in slices", { timeout: 120_000 }, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-flow-commit-")) {
    it(`${name}: a jobId taken by a job added while the flow is prepared refuses the flow, writing nothing`, async () => {
      // The colliding enqueue lands k turns after the call: before the checks, between the
      // preparation's own check and the commit, or after the commit. Exactly one of the two
      // gets the id, and a refused flow leaves nothing behind.
      let refusedFlows = 0;
      for (let k = 0; k < 40; k++) {
        const store = await makeStore();
        const { queue, clock } = await openTestQueue({}, store);
        setSliceMs(queue, 0); // every budget check yields
        const flow = queue.enqueueFlow(bigFlow(3, 100, "the-id"));
        flow.catch(() => {});
        await turns(k);
        const single = queue.enqueue("other", "x", { jobId: "the-id" });
        single.catch(() => {});
        const [f, s] = await Promise.allSettled([flow, single]);
        if (f.status === "rejected") {
          refusedFlows++;
          assert.ok(f.reason instanceof DuplicateJobIdError, `k=${k}: ${String(f.reason)}`);
          assert.match(f.reason.message, /Expected `flow\.options\.jobId` to be an id no job has/);
          assert.equal(s.status, "fulfilled", `k=${k}`);
          for (const q of ["root", "mid", "leaf"]) {
            const stats = await queue.stats(q);
            assert.equal(stats.pending + stats.scheduled, 0, `k=${k}: ${q} holds nothing`);
          }
          assert.equal((await queue.getJob("the-id"))?.queue, "other");
        } else {
          assert.ok(s.status === "rejected" && s.reason instanceof DuplicateJobIdError, `k=${k}`);
          assert.equal((await queue.getJob("the-id"))?.queue, "root");
          assert.equal((await queue.stats("leaf")).pending, 300);
        }
        assert.deepEqual(auditState(liveState(queue)), []);
        const live = stateDigest(liveState(queue));
        assert.equal(stateDigest(await replayedState(store, "q")), live, `k=${k}: replay`);
        await queue.close();
        const reopened = (await openTestQueue({}, store, clock)).queue;
        assert.equal(stateDigest(liveState(reopened)), live, `k=${k}: checkpoint`);
        await reopened.close();
        if (f.status === "fulfilled" && k > 0) break;
      }
      // The call's own turn and the next ones only check and prepare: the single enqueue wins.
      assert.ok(refusedFlows >= 2, `refused ${refusedFlows}`);
    });

    it(`${name}: a flow prepared across turns of other enqueues commits whole and replays the same`, async () => {
      const store = await makeStore();
      const { queue, clock } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      let settled = false;
      const flow = queue.enqueueFlow(bigFlow(2, 150)).finally(() => {
        settled = true;
      });
      // Jobs enqueued meanwhile get ids newer than some of the flow's.
      const others: Promise<unknown>[] = [];
      while (!settled) {
        others.push(queue.enqueue("other", `o${others.length}`));
        await turns(1);
      }
      const result = await flow;
      await Promise.all(others);
      assert.ok(others.length > 2, `others ${others.length}`);
      assert.equal(result.children.length, 2);
      assert.equal((await queue.stats("leaf")).pending, 300);
      assert.equal((await queue.getJob(result.id))?.waitingChildren, 2);
      assert.deepEqual(auditState(liveState(queue)), []);
      const live = stateDigest(liveState(queue));
      assert.equal(stateDigest(await replayedState(store, "q")), live);
      // A takeover replays the log; then a close checkpoints and a reopen restores it.
      const second = (await openTestQueue({}, store, clock)).queue;
      assert.equal(stateDigest(liveState(second)), live);
      await second.close();
      const third = (await openTestQueue({}, store, clock)).queue;
      assert.equal(stateDigest(liveState(third)), live);
      // And it runs: every leaf, then each mid, then the root.
      for (let i = 0; i < 300; i++) await third.ack(await mustClaim(third, "leaf"));
      for (let i = 0; i < 2; i++) await third.ack(await mustClaim(third, "mid"));
      assert.equal((await mustClaim(third, "root")).id, result.id);
      await third.close();
    });
  }

  it("with listeners, a flow prepared in slices is heard as one enqueue per job", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    setSliceMs(queue, 0);
    const heard: string[] = [];
    queue.on("enqueued", (event) => {
      heard.push(event.id);
    });
    const result = await queue.enqueueFlow(bigFlow(2, 70));
    await queue.flush();
    const ids = [
      result.id,
      ...result.children.flatMap((m) => [m.id, ...m.children.map((c) => c.id)]),
    ];
    assert.deepEqual(heard.slice().sort(), ids.slice().sort());
    const live = stateDigest(liveState(queue));
    await queue.close();
    assert.equal(stateDigest(liveState((await openTestQueue({}, store, clock)).queue)), live);
  });

  it("a transaction record written a part at a time has the bytes of writeRecord", () => {
    const ops = Array.from({ length: 3 }, (_, i) => ({
      tag: Tag.Enqueue,
      id: `01J000000000000000000000${i}A`,
      queue: "q",
      payload: new Uint8Array([i]),
      headers: undefined,
      trace: undefined,
      priority: 0,
      maxAttempts: 3,
      enqueuedAt: 1_000 + i,
      runAt: undefined,
      dedupKey: undefined,
      ...(i === 0 ? { waitsForChildren: true } : { flowParent: "01J0000000000000000000000A" }),
    })) as TransactionRecord["ops"];
    const record: TransactionRecord = { tag: Tag.Transaction, ops };
    const w = new ByteWriter(8);
    writeTransactionHead(w, ops.length);
    for (const op of ops) writeTransactionOp(w, op);
    assert.deepEqual(Buffer.from(w.finish()), Buffer.from(encodeRecord(record)));
  });
});
