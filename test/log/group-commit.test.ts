import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { LatencyStore } from "../../src/store/wrappers/latency.js";
import { rec, testOptions, texts } from "./helpers.js";

describe("log group commit", { timeout: 60_000 }, () => {
  it("1000 concurrent appenders against a 25 ms store share a few WAL writes", async () => {
    const inner = new MemoryStore();
    const counting = new CountingStore(new LatencyStore(inner, { latencyMs: 25 }));
    const { log } = await openLog(counting, "q", testOptions({ flushIntervalMs: 2 }));
    counting.reset();
    const appenders = Array.from({ length: 1000 }, async (_, i) => {
      // Appenders arrive spread over a few milliseconds, not all in one tick.
      await new Promise((r) => setTimeout(r, i % 10));
      await log.append(rec(`job-${i}`));
    });
    await Promise.all(appenders);
    const puts = counting.snapshot().counts.put;
    assert.ok(puts >= 1 && puts < 50, `WAL PUTs for 1000 appends: ${puts}`);
    assert.equal(log.stats().recordsWritten, 1000);

    const reopened = await openLog(inner, "q", testOptions());
    assert.equal(reopened.records.length, 1000);
    assert.equal(new Set(texts(reopened.records)).size, 1000);
  });

  it("acknowledges in order: a batch resolves only after every batch before it", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { log } = await openLog(faults, "q", testOptions());
    const stall = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const order: string[] = [];
    const first = log.append(rec("first")).then(() => order.push("first"));
    await stall.whenHeld();
    const second = log.append(rec("second")).then(() => order.push("second"));
    const third = log.append(rec("third")).then(() => order.push("third"));
    await new Promise((r) => setTimeout(r, 10));
    // Only one write is ever in flight; the others wait behind it.
    assert.equal(stall.held(), 1);
    assert.deepEqual(order, []);
    stall.release();
    await Promise.all([first, second, third]);
    assert.deepEqual(order, ["first", "second", "third"]);
    // The two records that arrived during the write went out together.
    assert.equal(log.stats().batchesWritten, 2);
  });

  it("flush() seals the open batch without waiting for the window", async () => {
    const { log } = await openLog(new MemoryStore(), "q", testOptions({ flushIntervalMs: 60_000 }));
    const appended = log.append(rec("a"));
    await log.flush();
    await appended;
    assert.equal(log.stats().durableWalId, 1); // a new log has no fence: the first batch is wal 1
  });

  it("a full batch is sealed at once; one call's records share a batch", async () => {
    const { log } = await openLog(
      new MemoryStore(),
      "q",
      testOptions({ flushIntervalMs: 60_000, maxBatchBytes: 100 }),
    );
    await log.append([new Uint8Array(60), new Uint8Array(60)]); // over the limit: sealed now
    assert.equal(log.stats().batchesWritten, 1);
    assert.equal(log.stats().recordsWritten, 2);
  });

  it("an idle log makes no requests", async () => {
    const counting = new CountingStore(new MemoryStore());
    const { log } = await openLog(counting, "q", testOptions());
    log.setSnapshotSource(() => rec("state"));
    await log.append(rec("x"));
    await new Promise((r) => setTimeout(r, 20)); // let any background work settle
    counting.reset();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(counting.snapshot().requests, 0);
    await log.close();
  });

  it("whenWritable() waits while too many bytes are not yet durable", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { log } = await openLog(faults, "q", testOptions({ maxUnflushedBytes: 50 }));
    await log.whenWritable(); // nothing pending
    const stall = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const appended = log.append(new Uint8Array(100));
    let writable = false;
    const waiting = log.whenWritable().then(() => {
      writable = true;
    });
    await stall.whenHeld();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(writable, false);
    assert.ok(log.stats().unflushedBytes > 50);
    stall.release();
    await Promise.all([appended, waiting]);
    assert.equal(writable, true);
    assert.equal(log.stats().unflushedBytes, 0);
  });

  it("rejects bad records with INVALID_ARGUMENT and changes nothing", async () => {
    const { log } = await openLog(new MemoryStore(), "q", testOptions());
    const bad = [null, "text", [new Uint8Array(1), "x"]] as unknown as Uint8Array[];
    for (const value of bad) {
      await assert.rejects(log.append(value), { code: "INVALID_ARGUMENT" });
    }
    assert.equal(log.stats().unflushedBytes, 0);
    await log.flush();
    assert.equal(log.stats().batchesWritten, 0);
  });
});
