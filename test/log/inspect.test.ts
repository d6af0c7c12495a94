import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { CorruptionError } from "../../src/errors.js";
import { inspectLog, type Log, openLog, readLog, readLogAfter } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll, type ObjectStore, type PutOptions } from "../../src/store/types.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { SLICE_CLOCK } from "../../src/util/slices.js";
import { rec, rejection, testOptions, texts } from "./helpers.js";

/** A log on `store` that neither checkpoints nor collects by itself. */
async function quietLog(store: ObjectStore): Promise<Log> {
  const { log } = await openLog(
    store,
    "q",
    testOptions({ gcMinAgeMs: 1e12, checkpointWalBatches: 1_000_000 }),
  );
  log.setSnapshotSource(() => rec("snap"));
  return log;
}

/** `inner`, but listed by `list`. */
function withListing(inner: ObjectStore, list: ObjectStore["list"]): ObjectStore {
  return {
    get: (key) => inner.get(key),
    put: (key, body, putOptions) => inner.put(key, body, putOptions),
    delete: (key) => inner.delete(key),
    describe: () => inner.describe(),
    list,
  };
}

/** Appends records `r<from>` to `r<to - 1>`, each as a WAL batch of its own. */
async function appendBatches(log: Log, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const written = log.append(rec(`r${i}`));
    await log.flush();
    await written;
  }
}

describe("log read-only access", { timeout: 60_000 }, () => {
  it("readLog returns what a writer would recover, without writing or fencing", async () => {
    const inner = new MemoryStore();
    const { log } = await openLog(inner, "q", testOptions());
    log.setSnapshotSource(() => rec("snap"));
    await log.append(rec("a"));
    await log.checkpoint();
    await log.append([rec("b"), rec("c")]);

    const counting = new CountingStore(inner);
    const contents = await readLog(counting, "q");
    assert.equal(new TextDecoder().decode(contents.checkpoint!), "snap");
    assert.deepEqual(texts(contents.records), ["b", "c"]);
    const { counts } = counting.snapshot();
    assert.equal(counts.put + counts.delete, 0);

    // The writer is still the writer.
    await log.append(rec("d"));
    assert.deepEqual(texts((await readLog(inner, "q")).records), ["b", "c", "d"]);
  });

  it("readLog retries when the writer checkpoints and collects what it was reading", async () => {
    const inner = new MemoryStore();
    const { log } = await openLog(inner, "q", testOptions());
    log.setSnapshotSource(() => rec("after a and b"));
    await log.append(rec("a"));
    await log.append(rec("b"));
    const reader = new FaultStore(inner);
    const stall = reader.pause({ op: "get", keyPrefix: "q/wal/" });
    const reading = readLog(reader, "q");
    await stall.whenHeld();
    await log.checkpoint(); // deletes the batches the reader listed
    assert.equal(await inner.get("q/wal/00000000000000000002"), null);
    stall.release();
    const contents = await reading;
    assert.equal(new TextDecoder().decode(contents.checkpoint!), "after a and b");
    assert.deepEqual(contents.records, []);
  });

  it("readLog and inspectLog of a log nobody opened", async () => {
    const store = new MemoryStore();
    const contents = await readLog(store, "nothing");
    assert.equal(contents.checkpoint, null);
    assert.deepEqual(contents.records, []);
    assert.equal(contents.info.manifest, null);
    assert.equal(contents.info.objects, 0);
    assert.equal(store.size, 0);
  });

  it("readLog and inspectLog of a log whose manifests are lost reject as openLog does", async () => {
    for (const keep of ["checkpoint", "wal", "owned"] as const) {
      const store = new MemoryStore();
      const { log } = await openLog(store, "q", testOptions());
      log.setSnapshotSource(() => rec("snap"));
      await log.append(rec("a"));
      await log.checkpoint();
      await log.append(rec("b")); // no close: "b" stays in the WAL
      await store.put("q/owned/thing-1", rec("an object of the layer above"));
      for (const { key } of await listAll(store, "q/")) {
        if (!key.startsWith(`q/${keep}/`)) await store.delete(key);
      }
      const context = {
        ownedDirs: [{ dir: "owned/", isObject: (name: string) => name.startsWith("thing-") }],
      };
      const refused = await rejection(openLog(store, "q", testOptions(), context));
      assert.ok(refused instanceof CorruptionError, `${keep}: ${refused.message}`);
      for (const read of [readLog, inspectLog]) {
        const error = await rejection(read(store, "q", {}, context));
        assert.ok(error instanceof CorruptionError, `${keep}: ${error.message}`);
        assert.equal(error.objectKey, "q/manifest/");
        assert.equal(error.message, refused.message);
        assert.match(error.message, new RegExp(`but "q/${keep}/`));
        assert.match(error.message, /Restore the manifests from a backup/);
      }
    }
  });

  it("readLog of a log whose only objects are not the log's own reads as a log nobody opened", async () => {
    const store = new MemoryStore();
    await store.put("q/probe/01JEXAMPLE0000000000000000", new Uint8Array(8));
    await store.put("q/wal/README", rec("notes"));
    await store.put("q/owned/other", rec("not named as an owned object"));
    const context = {
      ownedDirs: [{ dir: "owned/", isObject: (name: string) => name.startsWith("thing-") }],
    };
    const contents = await readLog(store, "q", {}, context);
    assert.equal(contents.info.manifest, null);
    assert.deepEqual(contents.records, []);
  });

  it("inspectLog reports epoch, WAL, fences and the checkpoint's size and age", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({ clock, flushIntervalMs: 0 });
    await openLog(store, "q", options); // epoch 1: a new log (no fence), dropped without close
    const { log } = await openLog(store, "q", options);
    log.setSnapshotSource(() => new Uint8Array(100));
    await log.append(rec("x"));
    await log.checkpoint();
    await log.append([rec("y"), rec("z")]);
    clock.advance(5_000);

    const info = await inspectLog(store, "q/", { clock });
    assert.equal(info.prefix, "q/");
    assert.equal(info.manifest?.epoch, 2);
    // Epoch 2 fenced the four slots epoch 1 could have had writes in flight for (1-4).
    assert.equal(info.manifest?.replayAfter, 5);
    assert.equal(info.wal.fences, 4);
    assert.equal(info.wal.lastId, 6);
    assert.equal(info.wal.pendingObjects, 1);
    assert.ok(info.wal.pendingBytes > 0);
    assert.equal(info.checkpoints, 1);
    assert.ok(info.checkpoint!.bytes > 100);
    assert.equal(info.checkpoint!.ageMs, 5_000);
    assert.equal(info.objects, info.manifests + info.wal.objects + info.checkpoints);
  });
});

/** A store that ignores create-if-absent, as some emulators do. */
class LaxStore extends MemoryStore {
  override put(key: string, body: Uint8Array, _options?: PutOptions): Promise<void> {
    return super.put(key, body);
  }
}

describe("log opening", { timeout: 60_000 }, () => {
  it("refuses a store that ignores conditional writes unless told otherwise", async () => {
    const lax: ObjectStore = new LaxStore();
    assert.equal((await rejection(openLog(lax, "q", testOptions()))).code, "UNSUPPORTED_STORE");
    const { log } = await openLog(lax, "q", testOptions({ allowUnsafeStore: true }));
    await log.append(rec("ok"));
  });

  it("rejects bad options with INVALID_ARGUMENT naming the option, writing nothing", async () => {
    const store = new MemoryStore();
    for (const [options, name] of [
      [{ flushIntervalMs: -1 }, "flushIntervalMs"],
      [{ maxBatchBytes: 0 }, "maxBatchBytes"],
      [{ manifestHistory: 1.5 }, "manifestHistory"],
      [{ retry: { maxElapsedMs: Number.NaN } }, "retry.maxElapsedMs"],
    ] as const) {
      const error = await rejection(openLog(store, "q", testOptions(options)));
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.match(error.message, new RegExp(name.replace(".", "\\.")));
    }
    assert.equal(store.size, 0);
  });
});

describe("reading what came after over a store that answers without I/O", {
  timeout: 60_000,
}, () => {
  it("gives the event loop turns while it lists a long WAL, and reads the same", async () => {
    const inner = new MemoryStore();
    const log = await quietLog(inner);
    const batches = 1_500;
    await appendBatches(log, 0, batches);
    // Covered by a checkpoint, kept (not old enough to collect): listed at every refresh.
    await log.checkpoint();
    const { position } = await readLog(inner, "q");
    await log.append(rec("later"));
    await log.flush();
    // Pages of 50 keys, each costing the store a millisecond (a slow core).
    const pageSize = 50;
    let walPages = 0;
    let pagesThisTurn = 0;
    let mostPagesInATurn = 0;
    const store = withListing(inner, (prefix, listOptions) => {
      if (prefix === "q/wal/") {
        walPages++;
        mostPagesInATurn = Math.max(mostPagesInATurn, ++pagesThisTurn);
        const until = performance.now() + 1;
        while (performance.now() < until);
      }
      return inner.list(prefix, { ...listOptions, limit: pageSize });
    });
    let reading = true;
    const turn = (): void => {
      pagesThisTurn = 0;
      if (reading) setImmediate(turn);
    };
    setImmediate(turn);
    const update = await readLogAfter(store, "q", position!);
    reading = false;
    assert.ok("tail" in update, JSON.stringify(update));
    assert.deepEqual(texts(update.tail.toArray()), ["later"]);
    assert.equal(update.info.wal.objects, batches + 1);
    assert.ok(walPages > batches / pageSize, `${walPages} pages of the WAL listed`);
    assert.ok(
      mostPagesInATurn < walPages,
      `${mostPagesInATurn} of ${walPages} WAL pages were listed in one turn of the event loop`,
    );
    await log.close();
  });
  it("reads a store whose listing is not in key order as one whose listing is", async () => {
    const inner = new MemoryStore();
    const log = await quietLog(inner);
    await appendBatches(log, 0, 30);
    const { position } = await readLog(inner, "q");
    await log.checkpoint();
    await appendBatches(log, 30, 40);
    // Breaks the contract: each page of 7 keys comes back in reverse key order.
    const reversed = withListing(inner, async (prefix, listOptions) => {
      const page = await inner.list(prefix, { ...listOptions, limit: 7 });
      return { ...page, objects: [...page.objects].reverse() };
    });
    const expected = await inspectLog(inner, "q");
    assert.equal(expected.wal.firstId, 1);
    assert.deepEqual((await inspectLog(reversed, "q")).wal, expected.wal);
    assert.deepEqual((await inspectLog(reversed, "q")).manifest, expected.manifest);
    assert.deepEqual(
      texts((await readLog(reversed, "q")).records),
      texts((await readLog(inner, "q")).records),
    );
    const update = await readLogAfter(reversed, "q", position!);
    assert.ok("tail" in update, JSON.stringify(update));
    assert.deepEqual(
      texts(update.tail.toArray()),
      Array.from({ length: 10 }, (_, i) => `r${30 + i}`),
    );
    assert.deepEqual(update.info.wal, expected.wal);
    await log.close();
  });
  it("runs its slices on a test's slice clock, never on the process's", async () => {
    const inner = new MemoryStore();
    const log = await quietLog(inner);
    // Past the number of objects between two checks of a slice's budget.
    await appendBatches(log, 0, 300);
    const { position } = await readLog(inner, "q");
    await log.append(rec("later"));
    await log.flush();
    let sliceReadings = 0;
    // Retries run on the injected clock: only slices could read the process's clock.
    const options = Object.assign(testOptions({ clock: new ManualClock(0) }), {
      [SLICE_CLOCK]: () => {
        sliceReadings++;
        return 0;
      },
    });
    const real = performance.now;
    let processReadings = 0;
    performance.now = () => {
      processReadings++;
      return real.call(performance);
    };
    try {
      const contents = await readLog(inner, "q", options);
      assert.equal(contents.records.length, 301);
      const update = await readLogAfter(inner, "q", position!, options);
      assert.ok("tail" in update, JSON.stringify(update));
      assert.deepEqual(texts(update.tail.toArray()), ["later"]);
    } finally {
      performance.now = real;
    }
    assert.ok(sliceReadings > 0, "the slice clock was read");
    assert.equal(processReadings, 0, "the process's clock was read");
    await log.close();
  });

  it("reads on, an object per slice at least, on a slice clock that has spent each slice by its next reading", async () => {
    // The WAL fetch asked its budget again after each turn before reading anything: on a
    // clock past the slice at every reading it only ever yielded. Here the clock stops
    // moving after a while, so a read that makes no progress ends rather than spins.
    const inner = new MemoryStore();
    const log = await quietLog(inner);
    await appendBatches(log, 0, 20);
    const { position } = await readLog(inner, "q");
    await appendBatches(log, 20, 30);
    let readings = 0;
    const options = Object.assign(testOptions(), {
      [SLICE_CLOCK]: () => (++readings <= 50_000 ? readings * 10 : 500_000),
    });
    const contents = await readLog(inner, "q", options);
    assert.equal(contents.records.length, 30);
    const update = await readLogAfter(inner, "q", position!, options);
    assert.ok("tail" in update, JSON.stringify(update));
    assert.equal(update.tail.toArray().length, 10);
    assert.ok(readings < 2_000, `the slice clock was read ${readings} times for 40 WAL objects`);
    await log.close();
  });
});
