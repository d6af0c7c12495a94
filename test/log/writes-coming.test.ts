/**
 * The hint a log gives its store when a steady stream of writes begins
 * (appends from more than one call gathered into one WAL batch), and only then: a log
 * opened and closed, or written one awaited append at a time, gives none.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { LatencyStore } from "../../src/store/wrappers/latency.js";
import { MeteredStore } from "../../src/store/wrappers/metered.js";
import { setWritesComing, writesComing } from "../../src/store/write-hint.js";
import { GatedStore, turns } from "./gated.js";
import { rec, testOptions } from "./helpers.js";

/** `store`, counting the hints it gets. */
function hinted<S extends object>(store: S): S & { hints: number } {
  const counted = Object.assign(store, { hints: 0 });
  setWritesComing(counted, () => {
    counted.hints++;
  });
  return counted;
}

describe("the hint that writes are coming", { timeout: 10_000 }, () => {
  it("a log opened and closed, or appended to one awaited record at a time, gives none", async () => {
    const store = hinted(new MemoryStore());
    const opened = await openLog(store, "q", testOptions({ flushIntervalMs: 0 }));
    await opened.log.close();
    const again = await openLog(store, "q", testOptions({ flushIntervalMs: 0 }));
    for (let i = 0; i < 20; i++) await again.log.append(rec(`r${i}`));
    await again.log.close();
    assert.equal(store.hints, 0);
  });

  it("appends from more than one call gathered into one batch give it, once per batch", async () => {
    const store = hinted(new GatedStore());
    const { log } = await openLog(store, "q", testOptions({ flushIntervalMs: 0 }));
    const appended: Promise<void>[] = [];
    try {
      // Two calls in one turn: one batch.
      appended.push(log.append(rec("a1")), log.append(rec("a2")));
      assert.equal(store.hints, 1);
      await store.whenHeld(1);
      // Appends while its create is in flight gather into the next batch: one hint for it.
      appended.push(log.append([rec("b1"), rec("b2")]));
      assert.equal(store.hints, 1, "one call, however many records");
      appended.push(log.append(rec("b3")), log.append(rec("b4")));
      assert.equal(store.hints, 2);
    } finally {
      // Whatever failed above, the held create goes and the log closes: the test ends.
      store.gating = false;
      for (const slot of store.held()) store.release(slot);
      await Promise.allSettled(appended);
      await log.close();
      await turns();
    }
  });

  it("keeps no hold on a hinted batch's records once they are durable", async () => {
    const store = hinted(new MemoryStore());
    const { log } = await openLog(store, "q", testOptions({ flushIntervalMs: 0 }));
    try {
      // Two calls in one turn (one hinted batch), then nothing more: a quiet queue.
      const kept = await appendTwoAndForget(log.append.bind(log));
      assert.equal(store.hints, 1);
      // A WeakRef's target stays alive until the end of the job that made it.
      await new Promise((resolve) => setImmediate(resolve));
      collectGarbage();
      assert.equal(kept.deref(), undefined, "the durable batch's record is still held");
    } finally {
      await log.close();
    }
  });

  it("passes through the package's wrappers; a store without one, or whose hint throws, is not disturbed", () => {
    const inner = hinted(new MemoryStore());
    writesComing(new MeteredStore(new CountingStore(inner)));
    assert.equal(inner.hints, 1);
    writesComing(new FaultStore(inner));
    assert.equal(inner.hints, 2, "through a FaultStore");
    writesComing(new LatencyStore(inner, { latencyMs: 0 }));
    assert.equal(inner.hints, 3, "through a LatencyStore");
    writesComing(new LatencyStore(new FaultStore(new CountingStore(inner)), { latencyMs: 0 }));
    assert.equal(inner.hints, 4, "through several");
    writesComing(new MemoryStore());
    const throwing = new MemoryStore();
    setWritesComing(throwing, () => {
      throw new Error("broken hint");
    });
    assert.doesNotThrow(() => writesComing(throwing));
  });
});

/** Appends two records from two calls in one turn, waits for both, and keeps only a WeakRef to one. */
async function appendTwoAndForget(
  append: (record: Uint8Array) => Promise<void>,
): Promise<WeakRef<Uint8Array>> {
  const record = rec("held?");
  const kept = new WeakRef(record);
  await Promise.all([append(record), append(rec("other"))]);
  return kept;
}

/** A full garbage collection (twice, so objects freed by the first are gone too). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
}
