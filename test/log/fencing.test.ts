import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FencedError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { LatencyStore } from "../../src/store/wrappers/latency.js";
import { rec, rejection, staleOpen, testOptions, texts } from "./helpers.js";

describe("log fencing", { timeout: 60_000 }, () => {
  it("a second writer fences the first: it fails FENCED, loses nothing acknowledged", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    await first.log.append([rec("a1"), rec("a2")]);
    const failures: Error[] = [];
    first.log.onFailure((error) => failures.push(error));

    const second = await openLog(store, "q", testOptions());
    assert.deepEqual(texts(second.records), ["a1", "a2"]);

    const error = await rejection(first.log.append(rec("zombie")));
    assert.equal(error.code, "FENCED");
    assert.ok(error instanceof FencedError);
    assert.equal(failures.length, 1);
    assert.equal(failures[0], error);
    // Every later call fails the same way, and the listener is not called again.
    assert.equal((await rejection(first.log.append(rec("later")))).code, "FENCED");
    assert.equal((await rejection(first.log.flush())).code, "FENCED");
    assert.equal(failures.length, 1);

    await second.log.append(rec("b1"));
    const third = await openLog(store, "q", testOptions());
    assert.deepEqual(texts(third.records), ["a1", "a2", "b1"]);
    assert.equal(third.log.stats().epoch, 3);
  });

  it("a zombie whose WAL write stalled while a new writer opened ends FENCED", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const zombie = await openLog(faults, "q", testOptions());
    await zombie.log.append(rec("acked"));

    const stall = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const stalled = zombie.log.append(rec("stalled"));
    await stall.whenHeld();
    const successor = await openLog(inner, "q", testOptions());
    stall.release();

    assert.equal((await rejection(stalled)).code, "FENCED");
    assert.deepEqual(texts(successor.records), ["acked"]);
    await successor.log.append(rec("next"));
    const check = await openLog(inner, "q", testOptions());
    assert.deepEqual(texts(check.records), ["acked", "next"]);
  });

  it("a zombie write that landed before the fence is replayed; the zombie's next write fails", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const zombie = await openLog(faults, "q", testOptions());
    const stall = faults.pause({ op: "put", keyPrefix: "q/wal/", mode: "after" });
    const landed = zombie.log.append(rec("landed"));
    await stall.whenHeld();
    const successor = await openLog(inner, "q", testOptions());
    assert.deepEqual(texts(successor.records), ["landed"]);
    stall.release();
    await landed; // it really is durable: the successor replayed it
    assert.equal((await rejection(zombie.log.append(rec("after")))).code, "FENCED");
  });

  it("an opener whose read-ahead a newer writer collected reads afresh and opens, not CORRUPTION", async () => {
    const inner = new MemoryStore();
    const first = await openLog(inner, "q", testOptions());
    await first.log.append(rec("a"));
    await first.log.append(rec("b"));
    const slow = new FaultStore(inner);
    const stall = slow.pause({ op: "get", keyPrefix: "q/wal/" });
    const opening = openLog(slow, "q", testOptions());
    await stall.whenHeld();
    const newer = await openLog(inner, "q", testOptions());
    newer.log.setSnapshotSource(() => rec("a+b"));
    await newer.log.checkpoint(); // collects the batches the slow opener is reading
    stall.release();
    const opened = await opening;
    assert.deepEqual(texts([opened.checkpoint!]), ["a+b"]);
    assert.deepEqual(opened.records, []);
    assert.equal((await rejection(newer.log.append(rec("c")))).code, "FENCED");
    await opened.log.close();
  });

  it("an opener whose replay a newer writer collected after it claimed ends FENCED, not CORRUPTION", async () => {
    const inner = new MemoryStore();
    const first = await openLog(inner, "q", testOptions());
    await first.log.append(rec("a"));
    const slow = new FaultStore(inner);
    // Held after its manifest: the WAL it then reads for replay is past what it read ahead.
    const claimed = slow.pause({ op: "put", keyPrefix: "q/manifest/", mode: "after" });
    const opening = openLog(slow, "q", testOptions());
    await claimed.whenHeld();
    await first.log.append(rec("b")).catch(() => {}); // lands in a slot the opener did not read ahead
    const stall = slow.pause({ op: "get", keyPrefix: "q/wal/" });
    claimed.release();
    await stall.whenHeld();
    const newer = await openLog(inner, "q", testOptions());
    newer.log.setSnapshotSource(() => rec("a+b"));
    await newer.log.checkpoint(); // collects the batches the slow opener is reading
    stall.release();
    assert.equal((await rejection(opening)).code, "FENCED");
  });

  it("a writer fenced while idle finds out at its next checkpoint's manifest write", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    first.log.setSnapshotSource(() => rec("state"));
    await first.log.append(rec("x"));
    await openLog(store, "q", testOptions());
    assert.equal((await rejection(first.log.checkpoint())).code, "FENCED");
    assert.equal((await rejection(first.log.append(rec("y")))).code, "FENCED");
  });
});

describe("log writers racing to open", { timeout: 60_000 }, () => {
  it("of writers opening at once, every one but the newest epoch ends FENCED", async () => {
    for (let round = 0; round < 10; round++) {
      const inner = new MemoryStore();
      const store = new LatencyStore(inner, { latencyMs: 1, jitterMs: 4 });
      const opened = await Promise.allSettled(
        [1, 2, 3].map(() => openLog(store, "q", testOptions())),
      );
      const logs = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value.log] : []));
      for (const o of opened) {
        if (o.status === "rejected") assert.equal((o.reason as { code?: string }).code, "FENCED");
      }
      assert.ok(logs.length >= 1, "someone opened the log");
      const results = await Promise.allSettled(
        logs.map((log, i) => log.append(rec(`w${i}`)).then(() => log.stats().epoch)),
      );
      const winners = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      for (const r of results) {
        if (r.status === "rejected") assert.equal((r.reason as { code?: string }).code, "FENCED");
      }
      // Exactly one writer can still write: the one holding the newest epoch.
      assert.equal(winners.length, 1);
      const newest = Math.max(...logs.map((log) => log.stats().epoch));
      assert.equal(winners[0], newest);
      const check = await openLog(inner, "q", testOptions());
      assert.equal(check.records.length, 1);
    }
  });
});

describe("log ambiguous writes", { timeout: 60_000 }, () => {
  it("a WAL create that failed after taking effect is recognised as ours (no duplicate)", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const { log } = await openLog(faults, "q", testOptions());
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "after", times: 1 });
    await log.append(rec("once"));
    await log.append(rec("twice"));
    assert.equal(faults.injectedCount, 1);
    const reopened = await openLog(inner, "q", testOptions());
    assert.deepEqual(texts(reopened.records), ["once", "twice"]);
  });

  it("a manifest create that failed after taking effect is recognised as ours", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    faults.addRule({ op: "put", keyPrefix: "q/manifest/", mode: "after", times: 1 });
    const { log } = await openLog(faults, "q", testOptions());
    assert.equal(log.stats().epoch, 1);
    log.setSnapshotSource(() => rec("s"));
    faults.addRule({ op: "put", keyPrefix: "q/manifest/", mode: "after", times: 1 });
    await log.append(rec("r"));
    await log.checkpoint();
    const reopened = await openLog(inner, "q", testOptions());
    assert.equal(reopened.log.stats().epoch, 2);
    assert.deepEqual(texts(reopened.checkpoint ? [reopened.checkpoint] : []), ["s"]);
    assert.deepEqual(reopened.records, []);
  });

  it("a slot taken by someone else's fence means FENCED, even after a failed attempt", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const { log } = await openLog(faults, "q", testOptions());
    await log.append(rec("before"));
    // Slot 2 is next (a new log has no fence; 1 = "before"); a rival's fence lands there.
    await inner.put("q/wal/00000000000000000002", new Uint8Array(0), { ifNoneMatch: "*" });
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 1 });
    const failures: Error[] = [];
    log.onFailure((error) => failures.push(error));
    assert.equal((await rejection(log.append(rec("lost")))).code, "FENCED");
    assert.equal(failures.length, 1);
  });
});

describe("log transient errors", { timeout: 60_000 }, () => {
  it("retries transient failures and then succeeds", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    faults.addRule({ op: ["list", "get"], mode: "before", times: 2 });
    const { log } = await openLog(faults, "q", testOptions());
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 3 });
    await log.append(rec("survives"));
    assert.equal(faults.injectedCount, 5);
    assert.deepEqual(texts((await openLog(inner, "q", testOptions())).records), ["survives"]);
  });

  it("fails for good with STORAGE once retries are exhausted", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const options = testOptions({ retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 30 } });
    const { log } = await openLog(faults, "q", options);
    await log.append(rec("ok"));
    const failures: Error[] = [];
    log.onFailure((error) => failures.push(error));
    const removeRule = faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before" });
    const first = log.append(rec("a"));
    const second = log.append(rec("b"));
    assert.equal((await rejection(first)).code, "STORAGE");
    assert.equal((await rejection(second)).code, "STORAGE");
    removeRule();
    // The store works again, but the log stays failed: its caller's state may be ahead of it.
    assert.equal((await rejection(log.append(rec("c")))).code, "STORAGE");
    assert.equal((await rejection(log.whenWritable())).code, "STORAGE");
    assert.equal(failures.length, 1);
    assert.deepEqual(texts((await openLog(inner, "q", testOptions())).records), ["ok"]);
  });
});

describe("log opener whose claim went stale while a busy writer collected", {
  timeout: 60_000,
}, () => {
  /**
   * The opener reads the newest manifest, then waits (here on the store probe)
   * while the writer checkpoints and its garbage collection deletes the
   * manifests and WAL objects that came after that read. The opener then
   * creates its manifest in a slot collected behind the writer's newest one:
   * it is not the log's writer, and must say so, not report damage. Then the
   * writer tries one more append: whether it still can.
   */
  async function staleOpenThenAppend(options: {
    batchAfter: boolean;
  }): Promise<{ error: Error & { code?: string }; writerGoesOn: boolean }> {
    const { error, writer } = await staleOpen(options);
    const writerGoesOn = await writer.log.append(rec("f")).then(
      () => true,
      () => false,
    );
    await writer.log.close().catch(() => {});
    return { error, writerGoesOn };
  }

  it("ends FENCED, not CORRUPTION, when the writer wrote after its checkpoint", async () => {
    const { error, writerGoesOn } = await staleOpenThenAppend({ batchAfter: true });
    assert.ok(writerGoesOn, "the opener fenced the writer before it found out");
    assert.ok(error instanceof FencedError, `expected FencedError, got ${String(error)}`);
    assert.match(
      error.message,
      /manifest "q\/manifest\/0+3" \(epoch 1\) is newer than this writer's/,
    );
  });

  it("ends FENCED when nothing was written after the checkpoint", async () => {
    const { error } = await staleOpenThenAppend({ batchAfter: false });
    assert.ok(error instanceof FencedError, `expected FencedError, got ${String(error)}`);
  });
});
