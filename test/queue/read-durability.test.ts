/**
 * Reads never report state that a crash could still undo: a value or job
 * whose record is applied but not yet durable is answered only once that
 * record is durable (and never, when it fails to become durable).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { STORES, turns } from "../jobs/stores.js";

const WAL = /\/wal\//;

async function open(faults: FaultStore, failFast = false): Promise<Queue> {
  return Queue.open(faults, "q", {
    clock: new ManualClock(1_700_000_000_000),
    logger: silentLogger,
    flushIntervalMs: 0,
    ...(failFast
      ? {
          log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 20 } },
        }
      : {}),
  });
}

/** Whether `promise` settled within a few turns (it must not while its write is held). */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await turns(10);
  return settled;
}

for (const kind of STORES) {
  describe(`reads answer only durable state (${kind.name})`, { timeout: 60_000 }, () => {
    it("kvGet and kvScan wait for a put in flight, then return it", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults);
      await queue.kvPut("k", "one");
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const put = queue.kvPut("k", "two");
      await hold.whenHeld();
      const got = queue.kvGet("k");
      const scanned = queue.kvScan("");
      assert.equal(await settledSoon(got), false, "kvGet must wait for the put to be durable");
      assert.equal(await settledSoon(scanned), false, "kvScan must wait too");
      hold.release();
      await put;
      assert.equal(Buffer.from((await got)!).toString(), "two");
      assert.equal(Buffer.from((await scanned).entries[0]!.value).toString(), "two");
      await queue.close();
    });

    it("a put that never becomes durable is never read", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults, true);
      await queue.kvPut("k", "one");
      faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
      const put = queue.kvPut("k", "lost");
      put.catch(() => {});
      await turns(1); // the put is applied and its write under way (and failing)
      const got = queue.kvGet("k").then(
        (value) => `value ${value === null ? "null" : Buffer.from(value).toString()}`,
        (error: { code?: string }) => `rejected ${error.code}`,
      );
      await assert.rejects(put);
      assert.notEqual(await got, "value lost");
    });

    it("getJob waits for the enqueue and the settlement in flight", async () => {
      const faults = new FaultStore(await kind.make());
      const queue = await open(faults);
      const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const enqueued = queue.enqueue("q", "x");
      await hold.whenHeld();
      // The id is not known to the caller yet; a listing reads the same state.
      const listed = queue.listJobs("q", "pending");
      assert.equal(await settledSoon(listed), false, "listJobs must wait for the enqueue");
      hold.release();
      const id = await enqueued;
      assert.equal((await listed).jobs[0]?.id, id);
      const claim = (await queue.claim("q"))!;
      const second = faults.pause({ op: "put", keyPrefix: "q/wal/" });
      const acked = queue.ack(claim);
      await second.whenHeld();
      const job = queue.getJob(id);
      const history = queue.attemptHistory(id);
      assert.equal(await settledSoon(job), false, "getJob must wait for the ack");
      assert.equal(await settledSoon(history), false, "attemptHistory must wait for the ack");
      second.release();
      await acked;
      assert.equal(await job, null, "acked without keeping: gone");
      assert.deepEqual(await history, []);
      await queue.close();
    });
  });
}
