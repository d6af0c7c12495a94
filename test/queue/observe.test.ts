import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { ManualClock } from "../../src/clock.js";
import type { FlowJob } from "../../src/queue/flows.js";
import { MAX_MESSAGE_BYTES } from "../../src/queue/limits.js";
import {
  type ClaimAckTimes,
  type CommitObserver,
  type EnqueueCounts,
  Observers,
} from "../../src/queue/observe.js";
import type { Queue } from "../../src/queue/queue.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { Transition } from "../../src/queue/transition.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import {
  FAIL_FAST,
  memoryAndFileStores,
  mustClaim,
  NO_BACKOFF,
  openTestQueue,
  text,
  WAL,
} from "./helpers.js";

/** A manual clock that counts its wall-time reads. */
class CountingClock extends ManualClock {
  reads = 0;

  override now(): number {
    this.reads++;
    return super.now();
  }
}

/** The commit boundary's observers, through the test-only hook. */
function observersOf(queue: Queue): Observers {
  return (queue as unknown as Record<symbol, () => Observers>)[Symbol.for("taquba.observers")]!();
}

/**
 * An observer that notes what it is told: transitions by tag, counted
 * enqueues by queue, and claims and acks told as times (`claim <queue> <ms>`).
 */
class Recorder implements CommitObserver {
  readonly eachEnqueue: boolean;
  readonly eachClaimAndAck: boolean;
  readonly tags: number[] = [];
  readonly enqueuedIds: string[] = [];
  readonly counted = new Map<string, number>();
  readonly times: string[] = [];
  batches = 0;

  constructor(eachEnqueue: boolean, eachClaimAndAck = true) {
    this.eachEnqueue = eachEnqueue;
    this.eachClaimAndAck = eachClaimAndAck;
  }

  committed(
    transitions: readonly Transition[],
    enqueued: EnqueueCounts | undefined,
    times: ClaimAckTimes | undefined,
  ): void {
    this.batches++;
    for (const { record } of transitions) {
      this.tags.push(record.tag);
      if (record.tag === Tag.Enqueue) this.enqueuedIds.push(record.jobId ?? record.id);
    }
    for (const [queue, n] of enqueued?.byQueue() ?? [])
      this.counted.set(queue, (this.counted.get(queue) ?? 0) + n);
    if (times === undefined) return;
    for (const [i, queue] of times.claimQueues.entries())
      this.times.push(`claim ${queue} ${times.waitsMs[i]}`);
    for (const [i, queue] of times.ackQueues.entries())
      this.times.push(`ack ${queue} ${times.durationsMs[i]}`);
  }

  /** Enqueues heard of by queue, counted or as transitions. */
  total(queue: string): number {
    return this.counted.get(queue) ?? 0;
  }
}

/**
 * Enqueues on every path — plain calls (committed in the caller's turn), a
 * call with a `jobId` (the general path, which plain calls then queue behind),
 * `enqueueBatch`, `enqueueMany` with a dedup hit, and a transaction that also
 * acks — while the WAL is held, so they become durable in as few writes as
 * the log makes. 8 jobs into "a", 6 into "b", 1 into "c"; one ack.
 */
async function mixedEnqueues(queue: Queue, store: FaultStore): Promise<void> {
  await queue.enqueue("c", "to ack");
  const claim = await mustClaim(queue, "c");
  const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
  const calls: Promise<unknown>[] = [
    queue.enqueue("a", "1"),
    queue.enqueue("b", "2"),
    queue.enqueue("a", "3", { jobId: "general" }),
    queue.enqueue("a", "4"),
    queue.enqueueBatch("b", ["5", "6"]),
    queue.enqueueMany("a", [
      { payload: "7", options: { dedupKey: "k" } },
      { payload: "8", options: { dedupKey: "k" } }, // a hit: adds nothing
      { payload: "9", options: { priority: 3 } },
    ]),
  ];
  await hold.whenHeld();
  calls.push(
    queue.transaction((tx) => {
      tx.enqueue("a", "10");
      tx.enqueue("b", "11");
      tx.ack(claim);
    }),
    queue.enqueue("a", "12"),
    queue.enqueue("b", "13"),
    queue.enqueue("a", "14"),
    queue.enqueue("b", "15"),
  );
  hold.release();
  await Promise.all(calls);
  await queue.flush();
}

describe("commit observers", { timeout: 60_000 }, () => {
  it("an observer throwing a value String() refuses is logged, and the next is still told", () => {
    const logger = recordingLogger();
    const observers = new Observers(logger);
    const throwing: CommitObserver = {
      eachEnqueue: false,
      eachClaimAndAck: false,
      committed() {
        throw Object.create(null);
      },
    };
    const recorder = new Recorder(false, false);
    observers.add(throwing);
    observers.add(recorder);
    observers.notify([], undefined, undefined);
    assert.equal(recorder.batches, 1);
    assert.deepEqual(logger.messages("error"), [
      "an observer of committed transitions threw: [object Object] (thrown value cannot be turned into a string)",
    ]);
  });

  it("an observer that needs no transition per enqueue is told enqueues as counts by queue", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({}, store);
    const recorder = new Recorder(false);
    observersOf(queue).add(recorder);
    await mixedEnqueues(queue, store);
    assert.equal(recorder.total("a"), 8);
    assert.equal(recorder.total("b"), 6);
    assert.equal(recorder.total("c"), 1);
    // No enqueue (plain, general, batch, many, or in a transaction) became a transition;
    // the claim and the transaction's ack did.
    assert.deepEqual(recorder.enqueuedIds, []);
    assert.deepEqual(recorder.tags, [Tag.Claim, Tag.Ack]);
    await queue.close();
  });

  it("while any observer needs each enqueue, every observer hears each as a transition, in commit order", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({}, store);
    const counting = new Recorder(false);
    const each = new Recorder(true);
    observersOf(queue).add(counting);
    observersOf(queue).add(each);
    await mixedEnqueues(queue, store);
    for (const recorder of [counting, each]) {
      assert.equal(recorder.counted.size, 0);
      assert.equal(recorder.enqueuedIds.length, 15);
      assert.equal(recorder.tags.filter((t) => t === Tag.Ack).length, 1);
    }
    assert.ok(each.enqueuedIds.includes("general"));
    // Once it is gone, enqueues are counted again.
    observersOf(queue).delete(each);
    await queue.enqueue("a", "later");
    assert.equal(counting.total("a"), 1);
    assert.equal(counting.enqueuedIds.length, 15);
    await queue.close();
  });

  it("an observer that needs no transition per claim and ack is told plain ones as times; the rest stay transitions", async () => {
    const { queue, clock } = await openTestQueue(NO_BACKOFF);
    const recorder = new Recorder(false, false);
    observersOf(queue).add(recorder);
    await queue.enqueueBatch("a", ["1", "2", "3"]);
    await queue.enqueue("b", "4");
    clock.advance(1_000);
    const [one, two] = await queue.claimBatch("a", 2); // one commit of two claims
    clock.advance(250);
    const three = await mustClaim(queue, "a", 1_000);
    const four = await mustClaim(queue, "b");
    clock.advance(500);
    await queue.ack(one!);
    await queue.nack(two!, "again");
    await queue.transaction((tx) => tx.ack(four));
    clock.advance(1_000);
    await queue.reapNow(); // three's lease ran out
    await queue.flush();
    assert.deepEqual(recorder.times, [
      "claim a 1000",
      "claim a 1000",
      "claim a 1250",
      "claim b 1250",
      "ack a 750",
    ]);
    // A nack, an ack in a transaction and an expiry are transitions (with their jobs as they were).
    assert.deepEqual(recorder.tags, [Tag.Retry, Tag.Ack, Tag.Retry]);
    assert.equal((await queue.getJob(three.id))?.status, "pending");

    // While any observer needs each claim and ack, every observer hears each as a transition.
    const each = new Recorder(false, true);
    observersOf(queue).add(each);
    const [again] = await queue.claimBatch("a", 1);
    await queue.ack(again!);
    await queue.flush();
    for (const recorder_ of [recorder, each])
      assert.deepEqual(recorder_.tags.slice(-2), [Tag.Claim, Tag.Ack]);
    assert.equal(recorder.times.length, 5);
    // Once it is gone, they are times again.
    observersOf(queue).delete(each);
    await queue.ack(await mustClaim(queue, "a"));
    assert.deepEqual(recorder.times.slice(5), ["claim a 2750", "ack a 0"]);
    await queue.close();
  });

  it("claims and acks told as times cost no clock read and no transition", async () => {
    const clock = new CountingClock();
    const { queue } = await openTestQueue({}, new MemoryStore(), clock);
    await queue.enqueueBatch(
      "a",
      Array.from({ length: 12 }, (_, i) => String(i)),
    );
    /** Clock reads of a claim of one job, its ack, and a claim of two (one commit). */
    const reads = async (): Promise<number[]> => {
      let before = clock.reads;
      const claim = await mustClaim(queue, "a");
      const claimed = clock.reads - before;
      before = clock.reads;
      await queue.ack(claim);
      const acked = clock.reads - before;
      before = clock.reads;
      assert.equal((await queue.claimBatch("a", 2)).length, 2);
      return [claimed, acked, clock.reads - before];
    };
    const unobserved = await reads();
    const timed = new Recorder(false, false);
    observersOf(queue).add(timed);
    assert.deepEqual(await reads(), unobserved);
    assert.equal(timed.times.length, 4);
    assert.deepEqual(timed.tags, []);
    // An observer that needs each: the commit's time is read for their transitions.
    observersOf(queue).add(new Recorder(false, true));
    const each = await reads();
    for (let i = 0; i < each.length; i++)
      assert.ok(each[i]! > unobserved[i]!, `${each} vs ${unobserved}`);
    await queue.close();
  });

  for (const [storeName, makeStore] of memoryAndFileStores("taquba-observe-"))
    it(`completion waiters read acks from the times: claims and acks stay times while someone waits (${storeName})`, async () => {
      const store = new FaultStore(await makeStore());
      const meterProvider = new MeterProvider({ readers: [] });
      const { queue } = await openTestQueue({ telemetry: { meterProvider, traces: false } }, store);
      const recorder = new Recorder(false, false);
      observersOf(queue).add(recorder);
      const [one, two, three] = await queue.enqueueBatch("a", ["1", "2", "3"]);
      // A waiter of a job that never runs stays pending throughout.
      const parked = await queue.enqueue("other", "never run");
      let parkedSettled = false;
      const parkedWait = queue.waitForCompletion(parked).finally(() => {
        parkedSettled = true;
      });
      parkedWait.catch(() => {});
      const waitOne = queue.waitForCompletion(one!);
      assert.equal(observersOf(queue).eachClaimAndAck, false);
      const c1 = await mustClaim(queue, "a");
      await queue.ack(c1, { result: "r1" });
      assert.deepEqual(await waitOne, { status: "done", result: Buffer.from("r1") });

      // An ack and a removal of the same (kept) job in one batch: the first end, in commit order, answers.
      const waitTwo = queue.waitForCompletion(two!);
      const [c2, c3] = await queue.claimBatch("a", 2);
      const waitThree = queue.waitForCompletion(three!);
      // One write held: what is committed meanwhile goes into the next log batch, together.
      const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
      const first = queue.enqueue("first", "held");
      await hold.whenHeld();
      const acked = queue.ack(c2!, { result: "r2" });
      const removed = queue.removeJob(two!);
      const dead = queue.deadLetter(c3!, "poison");
      hold.release();
      await Promise.all([first, acked, dead]);
      assert.equal(await removed, true);
      const [doneTwo, deadThree] = await Promise.all([waitTwo, waitThree]);
      assert.equal(doneTwo.status, "done");
      assert.equal(text((doneTwo as { result: Uint8Array }).result), "r2");
      assert.deepEqual(deadThree, { status: "dead", error: "poison" });
      await queue.flush();

      // Every claim and ack came as times; only the removal and the dead-letter were transitions.
      assert.deepEqual(
        recorder.times.map((t) => t.split(" ").slice(0, 2).join(" ")),
        ["claim a", "ack a", "claim a", "claim a", "ack a"],
      );
      assert.deepEqual(recorder.tags.sort(), [Tag.Dead, Tag.Remove].sort());
      assert.equal(parkedSettled, false);
      await queue.close();
      await assert.rejects(parkedWait);
    });

  it("enqueues that do not become durable are never told", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, store);
    const recorder = new Recorder(false);
    observersOf(queue).add(recorder);
    store.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const results = await Promise.allSettled([queue.enqueue("a", "1"), queue.enqueue("a", "2")]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected"],
    );
    assert.equal(recorder.total("a"), 0);
    assert.equal(recorder.batches, 0);
    await queue.close().catch(() => {});
  });
  it("a dead child's cascade tells each parent's death with the lastError apply gives it (cut to MAX_MESSAGE_BYTES)", async () => {
    const { queue } = await openTestQueue();
    let flow: FlowJob = { queue: "leaf", payload: "x" };
    for (let i = 0; i < 3; i++) flow = { queue: "mid", payload: "x", children: [flow] };
    const { id } = await queue.enqueueFlow(flow);
    const told = new Map<string, string>();
    queue.on("dead", (event) => told.set(event.id, event.error));
    const waited = queue.waitForCompletion(id);
    await queue.deadLetter(await mustClaim(queue, "leaf"), "é".repeat(MAX_MESSAGE_BYTES / 2));
    assert.equal(told.size, 4);
    for (const [job, error] of told) {
      assert.equal(error, (await queue.getJob(job))?.lastError, job);
      assert.ok(Buffer.byteLength(error) <= MAX_MESSAGE_BYTES, job);
    }
    assert.deepEqual(await waited, { status: "dead", error: told.get(id) });
    await queue.close();
  });
});
