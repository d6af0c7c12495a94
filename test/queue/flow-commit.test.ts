/**
 * A flow is checked, decided and encoded in slices of the event loop before
 * the turn that commits it: whatever the state does meanwhile, the flow is
 * still added whole or refused with nothing written, and its one record
 * applies the same live, at replay and after a checkpoint.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ManualClock } from "../../src/clock.js";
import { DuplicateJobIdError } from "../../src/errors.js";
import { readLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import { apply } from "../../src/queue/apply.js";
import { ByteWriter } from "../../src/queue/binary.js";
import { MAX_FLOW_JOBS } from "../../src/queue/flows.js";
import { IdGenerator } from "../../src/queue/ids.js";
import type { Queue } from "../../src/queue/queue.js";
import {
  decodeRecord,
  encodeRecord,
  writeTransactionHead,
  writeTransactionOp,
} from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { TransactionRecord } from "../../src/queue/records/transaction.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { bigFlow } from "./flow-fixtures.js";
import {
  enqueueRecord,
  memoryAndFileStores,
  mustClaim,
  openTestQueue,
  rejection,
  setSliceMs,
  text,
  turns,
  watch,
} from "./helpers.js";

/**
 * Asserts that `queue`'s live state is sound and what a replay of its log and
 * a reopen from its close's checkpoint give; closes it and returns the
 * reopened queue (the caller closes that).
 */
async function sameAfterReplayAndReopen(
  queue: Queue,
  store: ObjectStore,
  clock: ManualClock,
  label: string,
): Promise<Queue> {
  assert.deepEqual(auditState(liveState(queue)), [], label);
  const live = stateDigest(liveState(queue));
  assert.equal(stateDigest(await replayedState(store, "q")), live, `${label}: replay`);
  await queue.close();
  const reopened = (await openTestQueue({}, store, clock)).queue;
  assert.equal(stateDigest(liveState(reopened)), live, `${label}: checkpoint`);
  return reopened;
}

/** The ids of the jobs enqueued in the log of "q" in `store`, in the log's order. */
async function enqueuedIds(store: ObjectStore): Promise<string[]> {
  const { records } = await readLog(store, "q", { logger: silentLogger });
  const ids: string[] = [];
  for (const bytes of records) {
    const record = decodeRecord(bytes);
    for (const op of record.tag === Tag.Transaction ? record.ops : [record])
      if (op.tag === Tag.Enqueue) ids.push(op.id);
  }
  return ids;
}

describe("flow commit in slices", { timeout: 120_000 }, () => {
  for (const [name, makeStore] of memoryAndFileStores("taquba-flow-commit-")) {
    it(`${name}: a jobId goes to the earlier call: the flow's, over an enqueue made while it is prepared`, async () => {
      // The colliding enqueue is made k turns after the call: while the flow is checked,
      // prepared, or after it committed. The flow was called first: it gets the id each time.
      for (let k = 0; k < 40; k++) {
        const store = await makeStore();
        const { queue, clock } = await openTestQueue({}, store);
        setSliceMs(queue, 0); // every budget check yields
        const flow = queue.enqueueFlow(bigFlow(3, 100, "the-id"));
        const settled = watch(flow);
        await turns(k);
        const committedBefore = settled.settled();
        const single = await rejection(queue.enqueue("other", "x", { jobId: "the-id" }));
        assert.ok(single instanceof DuplicateJobIdError, `k=${k}: ${String(single)}`);
        assert.equal((await flow).id, "the-id");
        assert.equal((await queue.getJob("the-id"))?.queue, "root");
        assert.equal((await queue.stats("leaf")).pending, 300);
        assert.equal((await queue.stats("other")).pending, 0);
        const reopened = await sameAfterReplayAndReopen(queue, store, clock, `k=${k}`);
        await reopened.close();
        if (committedBefore) break;
      }
    });

    it(`${name}: a jobId goes to the earlier call: an enqueue's, or an earlier flow's, over a flow's`, async () => {
      const store = await makeStore();
      const { queue } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      await queue.enqueue("other", "x", { jobId: "the-id" });
      const refused = await rejection(queue.enqueueFlow(bigFlow(2, 50, "the-id")));
      assert.ok(refused instanceof DuplicateJobIdError, String(refused));
      assert.match(refused.message, /Expected `flow\.options\.jobId` to be an id no job has/);
      // Two flows with one jobId, called one after the other: the first gets it.
      const first = queue.enqueueFlow(bigFlow(2, 100, "shared"));
      const second = rejection(queue.enqueueFlow(bigFlow(2, 100, "shared")));
      assert.equal((await first).id, "shared");
      assert.ok((await second) instanceof DuplicateJobIdError);
      // A transaction made while a flow holds the id finds it taken, as after the commit.
      const third = queue.enqueueFlow(bigFlow(2, 100, "third"));
      const tx = await queue.transaction((t) => {
        t.enqueue("other", "y", { jobId: "third" });
      });
      assert.deepEqual(tx.enqueued, [{ id: "third", created: false }]);
      assert.equal((await third).id, "third");
      // A flow refused lets its ids go.
      const bad = bigFlow(1, 100, "freed");
      (bad.children![0]!.children![99] as { queue: unknown }).queue = 42;
      await rejection(queue.enqueueFlow(bad));
      assert.equal(typeof (await queue.enqueue("other", "z", { jobId: "freed" })), "string");
      assert.equal((await queue.stats("leaf")).pending, 400);
      assert.deepEqual(auditState(liveState(queue)), []);
      assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(liveState(queue)));
      await queue.close();
    });

    it(`${name}: job ids increase in the log's order, with enqueues made while a flow is prepared`, async () => {
      let beforeTheFlow = 0;
      for (let k = 0; k < 40; k++) {
        const store = await makeStore();
        const { queue, clock } = await openTestQueue({}, store);
        setSliceMs(queue, 0);
        const flow = queue.enqueueFlow(bigFlow(2, 100));
        const settled = watch(flow);
        await turns(k);
        const durable = settled.settled();
        const single = await queue.enqueue("leaf", "single");
        const result = await flow;
        await queue.flush();
        const ids = await enqueuedIds(store);
        assert.equal(ids.length, 1 + 2 + 200 + 1, `k=${k}`);
        for (let i = 1; i < ids.length; i++)
          assert.ok(ids[i - 1]! < ids[i]!, `k=${k}: ids ${i - 1} and ${i} of the log`);
        const first = ids[0] === single;
        if (first) beforeTheFlow++;
        assert.equal(first ? ids[1] : ids[0], result.id, `k=${k}`);
        const live = stateDigest(liveState(queue));
        assert.equal(stateDigest(await replayedState(store, "q")), live, `k=${k}: replay`);
        await queue.close();
        const reopened = (await openTestQueue({}, store, clock)).queue;
        assert.equal(stateDigest(liveState(reopened)), live, `k=${k}: checkpoint`);
        // Pending jobs are served in that order (by id): the job committed first comes first.
        assert.equal(text((await mustClaim(reopened, "leaf")).payload), first ? "single" : "l0.0");
        await reopened.close();
        if (durable) break;
      }
      // While the flow is checked and prepared, the single enqueue commits first.
      assert.ok(beforeTheFlow >= 2, `committed before the flow: ${beforeTheFlow}`);
    });

    it(`${name}: a flow's queue paused, and jobs enqueued and removed, while it is checked and prepared: it commits whole`, async () => {
      // The flow is checked in the slices that prepare it; its commit rechecks only what the
      // state may have changed. Whatever turn the others come in, the same outcome as one check.
      let prechecked = 0;
      for (let k = 0; k < 40; k++) {
        const store = await makeStore();
        const { queue, clock } = await openTestQueue({}, store);
        const early = await queue.enqueue("leaf", "early");
        setSliceMs(queue, 0);
        const state = liveState(queue);
        const take = state.takePrechecked.bind(state);
        state.takePrechecked = (record) => {
          const pre = take(record);
          if (pre !== null) prechecked++;
          return pre;
        };
        const flow = queue.enqueueFlow(bigFlow(2, 50));
        const settled = watch(flow);
        await turns(k);
        const committedBefore = settled.settled();
        await queue.pauseQueue("leaf");
        await queue.enqueue("other", "x");
        assert.equal(await queue.removeJob(early), true);
        const result = await flow;
        assert.equal(result.children.length, 2);
        assert.equal((await queue.stats("leaf")).pending, 100);
        assert.equal((await queue.stats("other")).pending, 1);
        assert.equal((await queue.getJob(result.id))?.waitingChildren, 2);
        const reopened = await sameAfterReplayAndReopen(queue, store, clock, `k=${k}`);
        assert.equal(await reopened.claim("leaf"), null, `k=${k}: paused`);
        await reopened.close();
        if (committedBefore) break;
      }
      assert.ok(prechecked > 0);
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

  it("a job given one of a flow's caller ids while the flow is prepared: the flow is refused, writing nothing", async () => {
    // Not through the API (a flow holds its ids from the call): straight into the state, k turns
    // after the call, so that at some k only the commit's own lookup of the ids stands between
    // the flow and a second job with one (at smaller k, its preparation finds the id taken).
    for (let k = 0; k < 60; k++) {
      const store = new MemoryStore();
      const { queue } = await openTestQueue({}, store);
      setSliceMs(queue, 0);
      const flow = queue.enqueueFlow(bigFlow(3, 100, "the-id"));
      const settled = watch(flow);
      await turns(k);
      // Committed (if not durable yet): the id is the flow's.
      if (settled.settled() || liveState(queue).findPublic("the-id") !== -1) {
        assert.equal((await flow).id, "the-id");
        await queue.close();
        assert.ok(k > 2, `committed ${k} turns after the call`);
        break;
      }
      const older = new IdGenerator(null, 1).next(500);
      apply(liveState(queue), enqueueRecord(older, { queue: "other", jobId: "the-id" }));
      const refused = await rejection(flow);
      assert.ok(refused instanceof DuplicateJobIdError, `k=${k}: ${String(refused)}`);
      assert.match(refused.message, /Expected `flow\.options\.jobId` to be an id no job has/);
      assert.equal((await queue.stats("leaf")).pending, 0);
      assert.deepEqual(await enqueuedIds(store), [], `k=${k}: nothing written`);
      await queue.close();
    }
  });

  it("a flow of MAX_FLOW_JOBS jobs is found whole right after its commit, and replays the same", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue({}, store);
    await queue.enqueueBatch("other", ["a", "b", "c"]);
    // Payloads of 100 bytes, one empty: the copies fill several shared buffers, and the commit
    // writes each run of them into the arena at once.
    const payloadOf = (i: number): Buffer =>
      i === 500
        ? Buffer.alloc(0)
        : Buffer.concat([Buffer.from(`l${i}:`), Buffer.alloc(94, i % 251)]);
    const children = Array.from({ length: MAX_FLOW_JOBS - 1 }, (_, i) => ({
      queue: "leaf",
      payload: payloadOf(i),
      ...(i === 17 ? { options: { jobId: "seventeen" } } : {}),
    }));
    const flow = await queue.enqueueFlow({ queue: "root", payload: "r", children });
    // Ids the commit has not indexed yet are found all the same.
    const last = flow.children[flow.children.length - 1]!.id;
    for (let i = 0; i < MAX_FLOW_JOBS - 1; i += i < 600 ? 1 : 97) {
      const job = await queue.getJob(flow.children[i]!.id);
      assert.deepEqual(Buffer.from(job!.payload), payloadOf(i), `child ${i}`);
    }
    assert.deepEqual(
      Buffer.from((await queue.getJob(last))!.payload),
      payloadOf(MAX_FLOW_JOBS - 2),
    );
    assert.equal((await queue.getJob("seventeen"))?.queue, "leaf");
    assert.equal((await queue.getJob(flow.id))?.waitingChildren, MAX_FLOW_JOBS - 1);
    assert.equal((await queue.stats("leaf")).pending, MAX_FLOW_JOBS - 1);
    assert.deepEqual(auditState(liveState(queue)), []);
    const live = stateDigest(liveState(queue));
    assert.equal(stateDigest(await replayedState(store, "q")), live);
    await queue.close();
    const reopened = (await openTestQueue({}, store, clock)).queue;
    assert.equal(stateDigest(liveState(reopened)), live);
    for (let i = 0; i < MAX_FLOW_JOBS - 1; i += 997) {
      const job = await reopened.getJob(flow.children[i]!.id);
      assert.deepEqual(Buffer.from(job!.payload), payloadOf(i), `child ${i} after the reopen`);
    }
    assert.equal(await reopened.removeJob(flow.id), true);
    assert.equal(await reopened.getJob(last), null);
    assert.deepEqual(auditState(liveState(reopened)), []);
    await reopened.close();
  });

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
