/**
 * Answers that write nothing (a KV no-op, a pause of a paused queue, a dedup
 * hit, a lost claim, a job that already ended) are decided from state that a
 * write still in flight may have changed. Each waits for that write to be
 * durable (and fails with the log when it fails), without sealing the open
 * WAL batch: such answers mixed among enqueues add no store writes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { settledSoon, walWritesAround } from "./held-wal.js";
import { FAIL_FAST, mustClaim, openTestQueue, WAL } from "./helpers.js";

/** How a call ended: `value <v>` or `rejected <code>`. */
function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    (value) => `value ${JSON.stringify(value)}`,
    (error: { code?: string }) => `rejected ${error.code}`,
  );
}

/** What each kind of no-op needs set up before the log's write is held. */
interface Fixture {
  /** A claim already acked: settling or renewing it again is refused. */
  settled: Claim;
}

async function setUp(queue: Queue): Promise<Fixture> {
  await queue.kvPut("k", "v");
  await queue.pauseQueue("paused");
  await queue.enqueue("held", "h", { dedupKey: "d", jobId: "taken" });
  await queue.enqueue("done", "x", { jobId: "ended" });
  const settled = await mustClaim(queue, "done");
  await queue.ack(settled, { result: "r" });
  return { settled };
}

/** Store writes of the 400 enqueues around `noop`'s calls (see {@link walWritesAround}). */
function writesWith(
  noop: ((queue: Queue, i: number, fixture: Fixture) => Promise<unknown>) | null,
): Promise<number> {
  return walWritesAround(setUp, noop);
}

describe("no-op answers do not push out an open batch early", { timeout: 60_000 }, () => {
  /** Store writes of the 400 enqueues alone (the same for every test: computed once). */
  let baseline: Promise<number> | undefined;

  /** Asserts that `noop`, made 40 times among 400 enqueues, adds no store writes. */
  async function addsNoWrites(
    noop: (queue: Queue, i: number, fixture: Fixture) => Promise<unknown>,
  ): Promise<void> {
    baseline ??= writesWith(null);
    const base = await baseline;
    const writes = await writesWith(noop);
    assert.ok(base <= 8, `the baseline batches the enqueues (${base} writes)`);
    assert.equal(writes, base, `the no-ops added store writes (${writes} for ${base})`);
  }

  it("KV: kvDelete of an absent key, a failed kvCompareAndSet, a transaction that writes nothing", async () => {
    await addsNoWrites((queue, i) => {
      switch (Math.floor(i / 10) % 4) {
        case 0:
          return queue.kvDelete(`absent-${i}`);
        case 1:
          return queue.kvCompareAndSet("k", "other", "w");
        case 2:
          return queue.transaction((tx) => tx.kvCheck("k", "v"));
        default:
          return queue.transaction((tx) => tx.cancel(`unknown-${i}`));
      }
    });
  });

  it("pauseQueue of a paused queue, resumeQueue of a running one", async () => {
    await addsNoWrites((queue, i) =>
      i % 20 === 5 ? queue.pauseQueue("paused") : queue.resumeQueue("running"),
    );
  });

  it("dedup and jobId hits: enqueue, enqueueMany, a transaction's enqueue, a taken jobId", async () => {
    await addsNoWrites((queue, i) => {
      switch (Math.floor(i / 10) % 5) {
        case 0:
          return queue.enqueue("held", "again", { dedupKey: "d" });
        case 1:
          return queue.enqueueMany("held", [{ payload: "again", options: { dedupKey: "d" } }]);
        case 2:
          return queue.transaction((tx) => tx.enqueue("held", "again", { jobId: "taken" }));
        case 3:
          return queue.enqueue("held", "again", { jobId: "taken" });
        default:
          return queue.enqueueFlow({ queue: "held", payload: "f", options: { jobId: "taken" } });
      }
    });
  });

  it("settling or renewing a claim that is not live", async () => {
    await addsNoWrites((queue, i, { settled }) => {
      switch (Math.floor(i / 10) % 6) {
        case 0:
          return queue.ack(settled);
        case 1:
          return queue.nack(settled, "again");
        case 2:
          return queue.deadLetter(settled, "again");
        case 3:
          return queue.release(settled);
        case 4:
          return queue.renewLease(settled, 1_000);
        default:
          return queue.transaction((tx) => tx.ack(settled));
      }
    });
  });

  it("waitForCompletion of a job that ended or is unknown", async () => {
    await addsNoWrites((queue, i) =>
      queue.waitForCompletion(i % 20 === 5 ? "ended" : `unknown-${i}`),
    );
  });
});

describe("no-op answers wait for the write in flight that decided them", {
  timeout: 60_000,
}, () => {
  it("kvDelete's false, kvCompareAndSet's false and a transaction that writes nothing", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    await queue.kvPut("k", "v");
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const deleted = queue.kvDelete("k");
    await hold.whenHeld();
    const again = queue.kvDelete("k");
    const compared = queue.kvCompareAndSet("k", "v", "w");
    const checked = queue.transaction((tx) => tx.kvCheck("k", null));
    assert.equal(await settledSoon(again), false, "kvDelete must wait for the delete");
    assert.equal(await settledSoon(compared), false, "kvCompareAndSet must wait too");
    assert.equal(await settledSoon(checked), false, "the transaction must wait too");
    hold.release();
    assert.equal(await deleted, true);
    assert.equal(await again, false);
    assert.equal(await compared, false);
    assert.deepEqual((await checked).enqueued, []);
    // A delete whose write fails is never the reason for a false.
    await queue.kvPut("k", "v");
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const lost = queue.kvDelete("k");
    lost.catch(() => {});
    const answers = [
      outcome(queue.kvDelete("k")),
      outcome(queue.transaction((tx) => tx.kvCheck("k", null))),
    ];
    await assert.rejects(lost);
    assert.deepEqual(await Promise.all(answers), ["rejected STORAGE", "rejected STORAGE"]);
    await queue.close().catch(() => {}); // the log failed
  });

  it("pauseQueue of a queue whose pause is in flight", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const paused = queue.pauseQueue("a");
    await hold.whenHeld();
    const again = queue.pauseQueue("a");
    assert.equal(await settledSoon(again), false, "must wait for the pause");
    hold.release();
    await paused;
    await again;
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const lost = queue.resumeQueue("a");
    lost.catch(() => {});
    const answer = outcome(queue.resumeQueue("a"));
    await assert.rejects(lost);
    assert.equal(await answer, "rejected STORAGE");
    await queue.close().catch(() => {}); // the log failed
  });

  it("a dedup hit on a job whose enqueue is in flight, or whose enqueue fails", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const first = queue.enqueue("q", "one", { dedupKey: "d" });
    await hold.whenHeld();
    const hit = queue.enqueue("q", "two", { dedupKey: "d" });
    const txHit = queue.transaction((tx) => tx.enqueue("q", "three", { dedupKey: "d" }));
    assert.equal(await settledSoon(hit), false, "enqueue must wait for the holder's enqueue");
    assert.equal(await settledSoon(txHit), false, "a transaction must wait too");
    hold.release();
    const id = await first;
    assert.equal(await hit, id);
    assert.deepEqual((await txHit).enqueued, [{ id, created: false }]);
    // A holder whose enqueue fails is never reported as the job that holds the key.
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const lost = queue.enqueue("q", "lost", { dedupKey: "e" });
    lost.catch(() => {});
    const answers = [
      outcome(queue.enqueue("q", "again", { dedupKey: "e" })),
      outcome(queue.enqueueMany("q", [{ payload: "again", options: { dedupKey: "e" } }])),
    ];
    await assert.rejects(lost);
    assert.deepEqual(await Promise.all(answers), ["rejected STORAGE", "rejected STORAGE"]);
    await queue.close().catch(() => {}); // the log failed
  });

  it("ClaimLostError for a claim whose settlement is in flight", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const acked = queue.ack(claim);
    await hold.whenHeld();
    const refused = [
      outcome(queue.ack(claim)),
      outcome(queue.nack(claim, "again")),
      outcome(queue.deadLetter(claim, "again")),
      outcome(queue.release(claim)),
      outcome(queue.renewLease(claim, 1_000)),
      outcome(queue.transaction((tx) => tx.ack(claim))),
    ];
    for (const [i, answer] of refused.entries())
      assert.equal(await settledSoon(answer), false, `refusal ${i} must wait for the ack`);
    hold.release();
    await acked;
    assert.deepEqual(await Promise.all(refused), new Array(6).fill("rejected CLAIM_LOST"));
    // A settlement whose write fails is never the reason for a ClaimLostError.
    await queue.enqueue("q", "y");
    const second = await mustClaim(queue, "q");
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const lost = queue.ack(second);
    lost.catch(() => {});
    const answers = [outcome(queue.ack(second)), outcome(queue.renewLease(second, 1_000))];
    await assert.rejects(lost);
    assert.deepEqual(await Promise.all(answers), ["rejected STORAGE", "rejected STORAGE"]);
    await queue.close().catch(() => {}); // the log failed
  });

  it("ClaimLostError for a claim whose lease's reaping is in flight", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue, clock } = await openTestQueue(FAIL_FAST, faults);
    await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", 1_000);
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    clock.advance(2_000);
    const reaped = queue.reapNow();
    await hold.whenHeld();
    const refused = outcome(queue.ack(claim));
    assert.equal(await settledSoon(refused), false, "must wait for the reaping");
    hold.release();
    await reaped;
    assert.equal(await refused, "rejected CLAIM_LOST");
    await queue.close();
  });

  it("waitForCompletion of a job whose end is in flight", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    const kept = await queue.enqueue("q", "x");
    const gone = await queue.enqueue("q", "y");
    const [first, second] = [await mustClaim(queue, "q"), await mustClaim(queue, "q")];
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const acked = [queue.ack(first, { result: "r" }), queue.ack(second)];
    await hold.whenHeld();
    const done = queue.waitForCompletion(kept);
    const notFound = queue.waitForCompletion(gone);
    assert.equal(await settledSoon(done), false, "done must wait for the ack");
    assert.equal(await settledSoon(notFound), false, "not_found must wait for the ack");
    hold.release();
    await Promise.all(acked);
    assert.equal((await done).status, "done");
    assert.deepEqual(await notFound, { status: "not_found" });
    // An end whose write fails is never the reason for a not_found.
    const other = await queue.enqueue("q", "z");
    const third = await mustClaim(queue, "q");
    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const lost = queue.ack(third);
    lost.catch(() => {});
    const answer = outcome(queue.waitForCompletion(other, { timeoutMs: 60_000 }));
    await assert.rejects(lost);
    assert.equal(await answer, "rejected STORAGE");
    await queue.close().catch(() => {}); // the log failed
  });

  it("waitForCompletion's timeoutMs and signal end its wait for the write in flight", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue, clock } = await openTestQueue(FAIL_FAST, faults);
    const kept = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const acked = queue.ack(claim, { result: "r" });
    await hold.whenHeld();
    const timed = [
      queue.waitForCompletion(kept, { timeoutMs: 50 }),
      queue.waitForCompletion("unknown", { timeoutMs: 50 }),
    ];
    const aborts = new AbortController();
    const reason = new Error("stop waiting");
    const aborted = [
      queue.waitForCompletion(kept, { signal: aborts.signal }),
      queue.waitForCompletion("unknown", { signal: aborts.signal }),
    ];
    const untimed = [queue.waitForCompletion(kept), queue.waitForCompletion("unknown")];
    clock.advance(49);
    for (const [i, wait] of [...timed, ...aborted].entries())
      assert.equal(await settledSoon(wait), false, `wait ${i} must wait for the ack`);
    clock.advance(1);
    for (const [i, wait] of timed.entries())
      assert.equal(await settledSoon(wait), true, `timeoutMs must end wait ${i}`);
    assert.deepEqual(await Promise.all(timed), [{ status: "timeout" }, { status: "timeout" }]);
    aborts.abort(reason);
    for (const [i, wait] of aborted.entries())
      assert.equal(await settledSoon(wait.catch(() => {})), true, `the abort must end wait ${i}`);
    for (const wait of aborted) await assert.rejects(wait, (error) => error === reason);
    for (const [i, wait] of untimed.entries())
      assert.equal(await settledSoon(wait), false, `untimed wait ${i} must wait for the ack`);
    hold.release();
    await acked;
    assert.deepEqual(await Promise.all(untimed), [
      { status: "done", result: Buffer.from("r") },
      { status: "not_found" },
    ]);
    await queue.close();
  });
});
