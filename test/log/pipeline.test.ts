import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { StorageError } from "../../src/errors.js";
import { isFenceSize } from "../../src/log/codec.js";
import { openLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { GatedStore, turns, watch } from "./gated.js";
import { rec, testOptions, texts } from "./helpers.js";

/** Enough records that a batch goes out as one more write in flight. */
function big(tag: string): Uint8Array[] {
  return Array.from({ length: 32 }, (_, i) => rec(`${tag}${i}`));
}

describe("log group commit without a window", { timeout: 30_000 }, () => {
  it("an idle log seals at once: an append is durable without the clock moving", async () => {
    const clock = new ManualClock();
    const counting = new CountingStore(new MemoryStore());
    const { log } = await openLog(counting, "q", {
      ...testOptions({ clock }),
      flushIntervalMs: undefined,
    });
    counting.reset();
    const first = watch(log.append(rec("a")));
    const second = watch(log.append(rec("b"))); // the same turn: the same batch
    await turns();
    assert.equal(first.state(), "resolved");
    assert.equal(second.state(), "resolved");
    assert.equal(counting.snapshot().counts.put, 1);
    // A lone sequential producer: one WAL write per append, no waiting for a window.
    for (let i = 0; i < 5; i++) await log.append(rec(`seq ${i}`));
    assert.equal(counting.snapshot().counts.put, 6);
  });

  it("with flushIntervalMs set, an idle log still waits for the window", async () => {
    const clock = new ManualClock();
    const { log } = await openLog(
      new MemoryStore(),
      "q",
      testOptions({ clock, flushIntervalMs: 5 }),
    );
    const appended = watch(log.append(rec("a")));
    await turns();
    assert.equal(appended.state(), "pending");
    clock.advance(5);
    await turns();
    assert.equal(appended.state(), "resolved");
  });
});

describe("log pipelined WAL writes", { timeout: 30_000 }, () => {
  it("keeps several creates in flight and acknowledges strictly in WAL order", async () => {
    const store = new GatedStore();
    const { log } = await openLog(store, "q", testOptions({ maxWritesInFlight: 4 }));
    const order: string[] = [];
    const a = log.append(rec("a")).then(() => order.push("a"));
    await store.whenHeld(1);
    const b = log.append(big("b")).then(() => order.push("b"));
    await store.whenHeld(2); // a big batch goes out alongside at once (appends of one turn share it)
    const c = log.append(big("c")).then(() => order.push("c"));
    await store.whenHeld(3);
    assert.deepEqual(store.held(), [1, 2, 3]);
    store.release(3);
    store.release(2);
    await turns();
    assert.deepEqual(order, [], "nothing is acknowledged before batch 1");
    store.release(1);
    await Promise.all([a, b, c]);
    assert.deepEqual(order, ["a", "b", "c"]);
    assert.equal(log.stats().durableWalId, 3);
    // Small appends while writes are in flight wait for them instead of going out alone.
    const d = log.append(rec("d"));
    await store.whenHeld(1);
    const e = watch(log.append(rec("e")));
    await turns();
    assert.deepEqual(store.held(), [4]);
    store.release(4);
    await d;
    await store.whenHeld(1);
    store.release(5);
    await turns();
    assert.equal(e.state(), "resolved");
  });

  it("a steady stream does not split: records appended one by one go alongside only at twice the newest in flight", async () => {
    const store = new GatedStore();
    const { log } = await openLog(store, "q", testOptions({ maxWritesInFlight: 4 }));
    const appends = [log.append(Array.from({ length: 40 }, (_, i) => rec(`a${i}`)))];
    await store.whenHeld(1); // 40 records in flight
    // Past the minimum of 32, even past the batch in flight: it waits for that batch.
    for (let i = 0; i < 79; i++) {
      appends.push(log.append(rec(`b${i}`)));
      await turns();
    }
    assert.deepEqual(store.held(), [1]);
    // Twice the batch in flight: the load grew, one more create.
    appends.push(log.append(rec("b79")));
    await store.whenHeld(2);
    assert.deepEqual(store.held(), [1, 2]);
    // One append of the minimum goes alongside at once, however big the batches in flight.
    appends.push(log.append(big("c")));
    await store.whenHeld(3);
    assert.deepEqual(store.held(), [1, 2, 3]);
    for (const slot of [1, 2, 3]) store.release(slot);
    await Promise.all(appends);
    assert.equal(log.stats().durableWalId, 3);
  });

  it("a batch that backpressure holds producers for goes alongside, however small", async () => {
    const store = new GatedStore();
    const { log } = await openLog(
      store,
      "q",
      testOptions({ maxWritesInFlight: 4, maxUnflushedBytes: 2_000 }),
    );
    const appends = [log.append(rec("x".repeat(100)))];
    await store.whenHeld(1);
    // Well below the pipelining minimum of 32 records: it waits while producers may go on.
    while (log.isWritable()) {
      appends.push(log.append(rec("x".repeat(100))));
      await turns();
    }
    assert.ok(appends.length < 32, `${appends.length} appends`);
    // Producers now wait for bytes to become durable: holding this batch back a round trip
    // would halve what gets through, so it goes out beside the one in flight.
    await store.whenHeld(2);
    assert.deepEqual(store.held(), [1, 2]);
    for (const slot of [1, 2]) store.release(slot);
    await Promise.all(appends);
    assert.equal(log.stats().durableWalId, 2);
  });

  it("never issues a create more than maxWritesInFlight past the last acknowledged batch", async () => {
    const store = new GatedStore();
    const { log } = await openLog(store, "q", testOptions({ maxWritesInFlight: 2 }));
    const appends = [log.append(rec("first"))];
    await store.whenHeld(1);
    for (let i = 0; i < 4; i++) {
      appends.push(log.append(big(`x${i}`)));
      await turns();
    }
    await store.whenHeld(2);
    assert.deepEqual(store.held(), [1, 2]);
    store.release(2); // completed, but not acknowledged: still counts
    await turns();
    assert.deepEqual(store.held(), [1]);
    store.release(1);
    // What piled up meanwhile goes out as one batch.
    await store.whenHeld(1);
    assert.deepEqual(store.held(), [3]);
    store.release(3);
    await Promise.all(appends);
    assert.equal(log.stats().durableWalId, 3);
  });

  it("a failed create fails it and every later one; the batches that landed after it are never replayed", async () => {
    const store = new GatedStore();
    const { log } = await openLog(store, "q", testOptions({ maxWritesInFlight: 4 }));
    store.gating = false;
    await log.append(rec("kept"));
    store.gating = true;
    const a = watch(log.append(rec("a")));
    await store.whenHeld(1);
    const b = watch(log.append(big("b")));
    await store.whenHeld(2);
    const c = watch(log.append(big("c")));
    await store.whenHeld(3);
    store.release(3);
    store.release(4);
    await turns();
    store.fail(2, new StorageError("refused", { permanent: true }));
    await turns(20);
    for (const w of [a, b, c]) {
      assert.equal(w.state(), "rejected");
      assert.equal((w.error() as StorageError).code, "STORAGE");
      assert.equal((w.error() as StorageError).inDoubt, false, "batch 2 never landed");
    }
    assert.equal(log.stats().durableWalId, 1);

    store.gating = false;
    const second = await openLog(store, "q", testOptions());
    assert.deepEqual(texts(second.records), ["kept"]);
    await second.log.append(rec("after"));
    // Slots 3 and 4 still hold the dead batches; the epoch rule skips them on every replay.
    const third = await openLog(store, "q", testOptions());
    assert.deepEqual(texts(third.records), ["kept", "after"]);
  });

  it("a crash with creates in flight keeps the log's guarantees; the old writer's late create fails", async () => {
    const store = new GatedStore();
    const { log: old } = await openLog(store, "q", testOptions({ maxWritesInFlight: 4 }));
    const a = watch(old.append(rec("a")));
    await store.whenHeld(1);
    const b = watch(old.append(big("b")));
    await store.whenHeld(2);
    const c = watch(old.append(big("c")));
    await store.whenHeld(3);
    store.release(2); // landed
    store.release(3); // landed
    await turns();
    assert.equal(b.state(), "pending");

    // The old process is "gone"; a new writer opens while slot 1 is still in flight.
    store.gating = false;
    const next = await openLog(store, "q", testOptions());
    assert.deepEqual(next.records, [], "nothing was acknowledged, nothing is replayed");
    const wal = await listAll(store.inner, "q/wal/");
    assert.ok(isFenceSize(wal.find((o) => o.key.endsWith("01"))!.size), "slot 1 is fenced");
    await next.log.append(rec("new"));

    // The old writer's create of slot 1 lands now: it finds the fence.
    store.release(1);
    await turns(20);
    for (const w of [a, b, c]) {
      assert.equal(w.state(), "rejected");
      assert.equal((w.error() as { code: string }).code, "FENCED");
    }
    assert.deepEqual(texts((await openLog(store, "q", testOptions())).records), ["new"]);
  });
});
