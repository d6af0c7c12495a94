/**
 * A flow some of whose payloads are offloaded (`payloadOffloadBytes`) is
 * committed as a plain one is: its objects are written first, then its
 * record is decided, encoded and checked in slices of the event loop, and
 * the turn that commits it only rechecks and applies. Its record is the one
 * a transaction writes (the offloaded payloads as references), so replay and
 * checkpoints are unchanged; and an object written for a flow that does not
 * commit is deleted, or left for the orphan collection, as a transaction's.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { ManualClock } from "../../src/clock.js";
import { ClosedError, DuplicateJobIdError, FencedError, StorageError } from "../../src/errors.js";
import { LogHandle } from "../../src/log/handle.js";
import { readLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import type { FlowJob } from "../../src/queue/flows.js";
import { IdGenerator } from "../../src/queue/ids.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { OrphanPasses } from "../../src/queue/orphan-passes.js";
import { ORPHAN_MIN_AGE_MS } from "../../src/queue/payloads.js";
import { decodeRecord, RecordEncoder } from "../../src/queue/records/codec.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { TransactionCheck } from "../../src/queue/transaction-check.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore, PutOptions } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { SLICE_CLOCK, SLICE_MS } from "../../src/util/slices.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { steppingClock, worstTurn } from "../turns.js";
import { until } from "../until.js";
import { FAIL_FAST, openTestQueue, rejection, setSliceMs, turns, watch } from "./helpers.js";

/** Payloads over this many bytes are offloaded. */
const OFFLOAD = 1_000;

function bytesOf(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff);
}

/** A root of `children` leaves; the root's payload and every `every`-th leaf's offloaded (`every` 0: the root's only; `root` false: none). */
function offloadedFlow(children: number, every: number, root = true, rootJobId?: string): FlowJob {
  return {
    queue: "root",
    payload: root ? bytesOf(2 * OFFLOAD, 1) : "r",
    ...(rootJobId === undefined ? {} : { options: { jobId: rootJobId } }),
    children: Array.from({ length: children }, (_, i) => ({
      queue: "leaf",
      payload: every > 0 && i % every === 0 ? bytesOf(OFFLOAD + 1 + i, i) : `l${i}`,
    })),
  };
}

async function payloadKeys(store: ObjectStore): Promise<string[]> {
  return (await store.list("q/payload/")).objects.map((o) => o.key);
}

/**
 * Charges `clock` `unitMs` for each job's work that grows with a flow: an id
 * taken (`decide`), an operation checked as its apply checks it, and each
 * operation of a transaction record encoded whole. Returns the undo.
 */
function chargePerJob(clock: { at: number }, unitMs: number): () => void {
  const next = IdGenerator.prototype.next;
  const op = TransactionCheck.prototype.op;
  const encode = RecordEncoder.prototype.encode;
  IdGenerator.prototype.next = function (this: IdGenerator, now: number) {
    clock.at += unitMs;
    return next.call(this, now);
  };
  TransactionCheck.prototype.op = function (this: TransactionCheck, record) {
    clock.at += unitMs;
    return op.call(this, record);
  };
  RecordEncoder.prototype.encode = function (this: RecordEncoder, record) {
    if (record.tag === Tag.Transaction) clock.at += unitMs * record.ops.length;
    return encode.call(this, record);
  };
  return () => {
    IdGenerator.prototype.next = next;
    TransactionCheck.prototype.op = op;
    RecordEncoder.prototype.encode = encode;
  };
}

/** The enqueues of the transaction records in the log of "q" in `store`. */
async function loggedFlowEnqueues(store: ObjectStore): Promise<EnqueueRecord[]> {
  const { records } = await readLog(store, "q", { logger: silentLogger });
  return records.flatMap((bytes) => {
    const record = decodeRecord(bytes);
    if (record.tag !== Tag.Transaction) return [];
    return record.ops.filter((op): op is EnqueueRecord => op.tag === Tag.Enqueue);
  });
}

describe("a flow with offloaded payloads", { timeout: 120_000 }, () => {
  it("commits in a turn no longer than a plain flow's: its record is decided, encoded and checked in slices", async () => {
    const slices = steppingClock(0.01);
    const { queue, store } = await openTestQueue({
      [SLICE_CLOCK]: slices.now,
      payloadOffloadBytes: OFFLOAD,
    } as OpenOptions);
    await queue.enqueueBatch(
      "other",
      Array.from({ length: 1_000 }, () => "x"),
    );
    // 10 µs of the slice clock a job: 5,000 jobs in one turn would be 150 ms.
    const undo = chargePerJob(slices, 0.01);
    const worst: Record<string, number> = {};
    try {
      worst.plain = await worstTurn(
        slices,
        () => queue.enqueueFlow(offloadedFlow(5_000, 0, false)),
        { countEnd: true },
      );
      worst.root = await worstTurn(slices, () => queue.enqueueFlow(offloadedFlow(5_000, 0)), {
        countEnd: true,
      });
      worst.some = await worstTurn(slices, () => queue.enqueueFlow(offloadedFlow(5_000, 500)), {
        countEnd: true,
      });
    } finally {
      undo();
    }
    // A slice, the overrun of its unit of 64 jobs and the commit's readings of the clock.
    const bound = SLICE_MS + 1.5;
    for (const [which, ms] of Object.entries(worst))
      assert.ok(ms <= bound, `${which}: a turn ran ${ms.toFixed(2)} ms (at most ${bound})`);
    assert.equal((await queue.stats("leaf")).pending, 15_000);
    // The first flow's root, the second's and ten of its children.
    assert.equal((await payloadKeys(store)).length, 12);
    await queue.close();
  });

  it("commits whole beside enqueues made while it is prepared: ids, payloads, the log's references; replay and checkpoint the same", async () => {
    const { queue, store, clock } = await openTestQueue({ payloadOffloadBytes: OFFLOAD });
    setSliceMs(queue, 0); // every budget check yields
    const flow = queue.enqueueFlow(offloadedFlow(600, 50, true, "the-root"));
    const settled = watch(flow);
    // Jobs enqueued meanwhile get ids newer than some of the flow's: its commit takes fresh ones.
    const others: Promise<string>[] = [];
    while (!settled.settled()) {
      others.push(queue.enqueue("other", `o${others.length}`));
      await turns(1);
    }
    const result = await flow;
    await Promise.all(others);
    assert.ok(others.length > 2, `others ${others.length}`);
    assert.equal(result.id, "the-root");
    assert.equal(result.children.length, 600);
    const payloadOf = async (q: typeof queue, id: string) =>
      Buffer.from((await q.getJob(id))!.payload);
    assert.deepEqual(await payloadOf(queue, "the-root"), Buffer.from(bytesOf(2 * OFFLOAD, 1)));
    for (const i of [0, 1, 50, 51, 599]) {
      const expected = i % 50 === 0 ? bytesOf(OFFLOAD + 1 + i, i) : Buffer.from(`l${i}`);
      assert.deepEqual(await payloadOf(queue, result.children[i]!.id), Buffer.from(expected));
    }
    // One transaction record, in the flow's order, with strictly increasing ids; the 13
    // offloaded payloads as references to the objects written, none inline.
    const logged = await loggedFlowEnqueues(store);
    assert.equal(logged.length, 601);
    for (let i = 1; i < logged.length; i++) assert.ok(logged[i - 1]!.id < logged[i]!.id);
    const referenced = logged.filter((op) => op.payloadRef !== undefined);
    assert.equal(referenced.length, 13);
    for (const op of referenced) assert.equal(op.payload.byteLength, 0);
    assert.deepEqual(
      referenced.map((op) => op.payloadRef!.key).sort(),
      (await payloadKeys(store)).sort(),
    );
    assert.deepEqual(auditState(liveState(queue)), []);
    const live = stateDigest(liveState(queue));
    assert.equal(stateDigest(await replayedState(store, "q")), live);
    await queue.close();
    const reopened = (await openTestQueue({ payloadOffloadBytes: OFFLOAD }, store, clock)).queue;
    assert.equal(stateDigest(liveState(reopened)), live);
    assert.deepEqual(
      await payloadOf(reopened, result.children[550]!.id),
      Buffer.from(bytesOf(OFFLOAD + 551, 550)),
    );
    assert.equal((await reopened.stats("leaf")).pending, 600);
    await reopened.close();
  });

  it("refused for a jobId an earlier call took meanwhile: the objects it wrote are deleted, nothing is added", async () => {
    const store = new PutCountingStore();
    const { queue } = await openTestQueue({ payloadOffloadBytes: OFFLOAD }, store);
    setSliceMs(queue, 0);
    // An offloaded transaction holds its jobId until it commits: the flow waits for it, then
    // writes its objects and finds the id taken while it is prepared.
    const earlier = queue.transaction((tx) => {
      tx.enqueue("other", bytesOf(2 * OFFLOAD, 9), { jobId: "taken" });
    });
    const flow = offloadedFlow(300, 50);
    flow.children![299]!.options = { jobId: "taken" };
    const refused = await rejection(queue.enqueueFlow(flow));
    assert.ok(refused instanceof DuplicateJobIdError, String(refused));
    assert.deepEqual((await earlier).enqueued, [{ id: "taken", created: true }]);
    // The transaction's object, the flow's root's and six of its children's.
    assert.equal(store.payloadPuts, 8);
    await until(async () => (await payloadKeys(store)).length === 1, "the flow's objects deleted");
    assert.equal((await queue.stats("leaf")).pending, 0);
    assert.equal((await queue.stats("root")).pending, 0);
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(liveState(queue)));
    await queue.close();
  });

  for (const certain of [true, false])
    it(`whose record's write ${certain ? "certainly failed deletes its objects" : "is in doubt leaves its objects, collected as orphans later"}`, async () => {
      const clock = new ManualClock(1_700_000_000_000);
      const faults = new FaultStore(new MemoryStore());
      const options = { ...FAIL_FAST, payloadOffloadBytes: OFFLOAD };
      const { queue } = await openTestQueue(options, faults, clock);
      faults.addRule({
        op: "put",
        keyPrefix: "q/wal/",
        mode: "before",
        ...(certain ? { error: () => new StorageError("refused", { permanent: true }) } : {}),
      });
      const error = await rejection(queue.enqueueFlow(offloadedFlow(600, 50)));
      assert.ok(error instanceof StorageError, String(error));
      assert.equal(error.inDoubt, !certain);
      if (certain)
        await until(async () => (await payloadKeys(faults)).length === 0, "its objects deleted");
      else {
        await turns(20);
        assert.equal((await payloadKeys(faults)).length, 13, "in doubt, its objects stay");
      }
      await queue.close().catch(() => undefined);
      faults.clearRules();
      // Past the orphans' minimum age: the collection at open takes them.
      clock.advance(ORPHAN_MIN_AGE_MS + 60_000);
      const reopened = (await openTestQueue(options, faults, clock)).queue;
      await until(async () => (await payloadKeys(faults)).length === 0, "the orphans collected");
      assert.equal((await reopened.stats("root")).pending, 0);
      assert.equal((await reopened.stats("leaf")).pending, 0);
      await reopened.close();
    });

  it("a queue closed while it is prepared, after its objects were written: refused with ClosedError, its objects deleted, nothing added", async () => {
    let closedAfterObjects = 0;
    for (let k = 0; k < 60; k++) {
      const store = new PutCountingStore();
      const { queue, clock } = await openTestQueue({ payloadOffloadBytes: OFFLOAD }, store);
      setSliceMs(queue, 0);
      const flow = queue.enqueueFlow(offloadedFlow(2_000, 100));
      const settled = watch(flow);
      // Handled from the start: the flow may be refused while close() is awaited.
      const outcome = flow.then(
        () => null,
        (error: unknown) => error,
      );
      await turns(k);
      const committed = settled.settled();
      const written = store.payloadPuts;
      await queue.close();
      const error = await outcome;
      const reopened = (await openTestQueue({ payloadOffloadBytes: OFFLOAD }, store, clock)).queue;
      if (error === null) {
        assert.equal((await reopened.stats("leaf")).pending, 2_000, `k=${k}`);
        assert.equal((await payloadKeys(store)).length, 21, `k=${k}`);
      } else {
        assert.ok(error instanceof ClosedError, `k=${k}: ${String(error)}`);
        if (written === 21) closedAfterObjects++;
        assert.equal((await reopened.stats("leaf")).pending, 0, `k=${k}`);
        assert.equal((await reopened.stats("root")).pending, 0, `k=${k}`);
        await until(async () => (await payloadKeys(store)).length === 0, `k=${k}: objects deleted`);
      }
      await reopened.close();
      if (committed) break;
    }
    assert.ok(closedAfterObjects > 0, "closed while prepared, its objects written");
  });

  it("spares its objects from an orphan pass that runs while it is prepared: committed, its payloads readable, also after reopen", async () => {
    const store = new PutCountingStore();
    const clock = new ManualClock(1_700_000_000_000);
    // The queue's orphan passes, to start one more pass between the preparation's slices.
    let passes: OrphanPasses | undefined;
    const start = OrphanPasses.prototype.start;
    OrphanPasses.prototype.start = function (this: OrphanPasses) {
      passes = this;
      start.call(this);
    };
    const options = { payloadOffloadBytes: OFFLOAD };
    let queue: Awaited<ReturnType<typeof openTestQueue>>["queue"];
    try {
      queue = (await openTestQueue(options, store, clock)).queue;
    } finally {
      OrphanPasses.prototype.start = start;
    }
    assert.ok(passes !== undefined);
    await turns(20); // the open's pass ends
    setSliceMs(queue, 0);
    const flow = queue.enqueueFlow(offloadedFlow(5_000, 250));
    const settled = watch(flow);
    while (store.payloadPuts < 21) await turns(1);
    await turns(2);
    assert.ok(!settled.settled(), "prepared");
    // Its objects' names are now past the orphans' minimum age, and no job references them yet.
    clock.advance(ORPHAN_MIN_AGE_MS + 60_000);
    // An orphan the pass must take, named after the flow's objects.
    const orphan = `q/payload/${ulid(clock.now() - ORPHAN_MIN_AGE_MS - 1_000)}`;
    await store.put(orphan, new Uint8Array(20));
    passes.start();
    for (let i = 0; (await payloadKeys(store)).includes(orphan); i++) {
      assert.ok(i < 500, "the orphan collected");
      await turns(1);
    }
    await turns(5);
    assert.ok(!settled.settled(), "the pass ran while it was prepared");
    const result = await flow;
    const keys = await payloadKeys(store);
    assert.equal(keys.length, 21);
    const check = async (q: typeof queue) => {
      assert.deepEqual(
        Buffer.from((await q.getJob(result.id))!.payload),
        Buffer.from(bytesOf(2 * OFFLOAD, 1)),
      );
      for (const i of [0, 250, 4_750])
        assert.deepEqual(
          Buffer.from((await q.getJob(result.children[i]!.id))!.payload),
          Buffer.from(bytesOf(OFFLOAD + 1 + i, i)),
        );
      assert.equal((await q.stats("leaf")).pending, 5_000);
    };
    await check(queue);
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
    const reopened = (await openTestQueue(options, store, clock)).queue;
    await turns(20);
    await check(reopened);
    assert.deepEqual((await payloadKeys(store)).sort(), keys.sort());
    await reopened.close();
  });

  for (const during of ["preparation", "wait for a writable log"])
    it(`a writer fenced during its ${during}: refused with FencedError, its objects deleted, nothing of it after another writer opens`, async () => {
      const clock = new ManualClock(1_700_000_000_000);
      const inner = new PutCountingStore();
      const faults = new FaultStore(inner);
      const wait = during !== "preparation";
      const options: OpenOptions = {
        ...FAIL_FAST,
        payloadOffloadBytes: OFFLOAD,
        // One record not yet durable makes the log unwritable.
        ...(wait ? { log: { ...FAIL_FAST.log, maxUnflushedBytes: 1 } } : {}),
      };
      const { queue } = await openTestQueue(options, faults, clock);
      // Another writer opens: the first learns it at its next write.
      const other = (await openTestQueue(options, faults, clock)).queue;
      let waiting = 0;
      const whenWritable = LogHandle.prototype.whenWritable;
      LogHandle.prototype.whenWritable = function (this: LogHandle) {
        waiting++;
        return whenWritable.call(this);
      };
      try {
        setSliceMs(queue, 0);
        const held = wait ? faults.pause({ op: "put", keyPrefix: "q/wal/" }) : null;
        const before = wait ? rejection(queue.enqueue("other", "x")) : null;
        const flow = queue.enqueueFlow(offloadedFlow(5_000, 250));
        const settled = watch(flow);
        const outcome = rejection(flow);
        while (inner.payloadPuts < 21) await turns(1);
        if (wait)
          for (let i = 0; waiting === 0; i++) {
            assert.ok(i < 5_000, "waits for a writable log");
            await turns(1);
          }
        else await turns(2);
        assert.ok(!settled.settled(), `still in its ${during}`);
        if (held !== null) held.release();
        else {
          const fenced = await rejection(queue.enqueue("other", "x"));
          assert.ok(fenced instanceof FencedError, String(fenced));
        }
        const error = await outcome;
        assert.ok(error instanceof FencedError, String(error));
        assert.equal(error.code, "FENCED");
        if (before !== null) assert.ok((await before) instanceof FencedError);
      } finally {
        LogHandle.prototype.whenWritable = whenWritable;
      }
      await queue.close().catch(() => undefined);
      // No record was appended for it: the fenced writer deleted what it wrote.
      assert.equal((await payloadKeys(faults)).length, 0, "its objects deleted");
      assert.equal((await other.stats("root")).pending, 0);
      assert.equal((await other.stats("leaf")).pending, 0);
      await other.close();
      // Past the orphans' minimum age: nothing of it at the next writer's open either.
      clock.advance(ORPHAN_MIN_AGE_MS + 60_000);
      const reopened = (await openTestQueue(options, faults, clock)).queue;
      await turns(20);
      assert.equal((await payloadKeys(faults)).length, 0);
      assert.equal((await reopened.stats("root")).pending, 0);
      assert.equal((await reopened.stats("leaf")).pending, 0);
      assert.equal((await reopened.stats("other")).pending, 0);
      await reopened.close();
    });
});

/** A memory store that counts the payload objects written. */
class PutCountingStore extends MemoryStore {
  payloadPuts = 0;
  override async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    if (key.startsWith("q/payload/")) this.payloadPuts++;
    return super.put(key, body, options);
  }
}
