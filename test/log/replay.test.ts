import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CorruptionError, StorageError } from "../../src/errors.js";
import { decodeFence } from "../../src/log/codec.js";
import { openLog } from "../../src/log/index.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ListOptions, StoredObject } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { turnCounter } from "../turns.js";
import { keysUnder, rec, testOptions, texts } from "./helpers.js";

/** A store whose log "q" has a checkpoint and 300 batches after it, left unclosed as by a crash. */
async function crashedAfterCheckpoint(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const first = await openLog(store, "q", testOptions());
  first.log.setSnapshotSource(() => rec("snapshot"));
  await first.log.append(rec("before"));
  await first.log.checkpoint();
  for (let i = 0; i < 300; i++) await first.log.append(rec(`after ${i}`));
  // No close: a crash leaves the batches after the checkpoint to replay.
  return store;
}

/**
 * Opens log "q" over `faults` with its checkpoint's read held until `started` says the tail's
 * fetch is under way, then failing (`atFailure` is called as it fails); the open's error.
 */
async function openWithCheckpointFailing(
  faults: FaultStore,
  started: () => boolean,
  atFailure: () => void,
): Promise<unknown> {
  const held = faults.pause({ op: "get", keyPrefix: "q/checkpoint/" });
  faults.addRule({
    op: "get",
    keyPrefix: "q/checkpoint/",
    mode: "before",
    error: () => {
      atFailure();
      return new StorageError("access denied", { permanent: true });
    },
  });
  const opening = openLog(faults, "q", testOptions()).then(
    () => assert.fail("opened a log whose checkpoint cannot be read"),
    (e: unknown) => e,
  );
  await held.whenHeld();
  while (!started()) await new Promise((resolve) => setImmediate(resolve));
  held.release();
  return opening;
}

/** A memory store whose WAL reads each take a millisecond of this thread (and no I/O) when `slow`. */
class SlowWalReads extends MemoryStore {
  slow = false;
  /** How many turns of the event loop the counter had seen at each slow read. */
  readonly turnsAtRead: number[] = [];
  counter: { readonly turns: number } = { turns: 0 };

  override get(key: string): Promise<StoredObject | null> {
    if (this.slow && key.includes("/wal/")) {
      const until = performance.now() + 1;
      while (performance.now() < until) {}
      this.turnsAtRead.push(this.counter.turns);
    }
    return super.get(key);
  }
}

/**
 * A memory store whose WAL reads answer after a real timer (like a store with latency) when
 * `slow`, noting for each read whether it was asked in the turn of an earlier answer.
 */
class LatentWalReads extends MemoryStore {
  slow = false;
  /** Reads asked in the turn of an answer (a lane going on at once) and after a turn (yielded). */
  readonly asked = { inAnswerTurn: 0, later: 0 };
  #answering = false;

  override async get(key: string): Promise<StoredObject | null> {
    if (!this.slow || !key.includes("/wal/")) return super.get(key);
    if (this.#answering) this.asked.inAnswerTurn++;
    else this.asked.later++;
    const value = await super.get(key);
    await new Promise((r) => setTimeout(r, 2));
    this.#answering = true;
    setImmediate(() => {
      this.#answering = false;
    });
    return value;
  }
}

describe("log replay", { timeout: 60_000 }, () => {
  it("opens an empty log with nothing to replay", async () => {
    const store = new MemoryStore();
    const { log, checkpoint, records } = await openLog(store, "q", testOptions());
    assert.equal(checkpoint, null);
    assert.deepEqual(records, []);
    assert.equal(log.stats().epoch, 1);
    await log.close();
  });

  it("replays records in append order after close and reopen", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) pending.push(first.log.append(rec(`r${i}`)));
    pending.push(first.log.append([rec("a"), rec("b")]));
    await Promise.all(pending);
    await first.log.close();

    const second = await openLog(store, "q/", testOptions());
    assert.equal(second.checkpoint, null);
    const expected = [...Array.from({ length: 50 }, (_, i) => `r${i}`), "a", "b"];
    assert.deepEqual(texts(second.records), expected);
    assert.equal(second.log.stats().epoch, 2);
    await second.log.close();
  });

  it("replays everything acknowledged after an abrupt stop", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    await first.log.append(rec("one"));
    await Promise.all([first.log.append(rec("two")), first.log.append(rec("three"))]);
    // No close: the handle is simply dropped, as when a process dies.
    const second = await openLog(store, "q", testOptions());
    assert.deepEqual(texts(second.records), ["one", "two", "three"]);
    await second.log.append(rec("four"));
    const third = await openLog(store, "q", testOptions());
    assert.deepEqual(texts(third.records), ["one", "two", "three", "four"]);
  });

  it("keeps logs under different paths apart, and the root path works", async () => {
    const store = new MemoryStore();
    const a = await openLog(store, "a", testOptions());
    const root = await openLog(store, "", testOptions());
    await a.log.append(rec("in a"));
    await root.log.append(rec("in root"));
    assert.deepEqual(texts((await openLog(store, "/a/", testOptions())).records), ["in a"]);
    assert.deepEqual(texts((await openLog(store, "", testOptions())).records), ["in root"]);
    assert.ok((await keysUnder(store, "a/wal/")).length > 0);
  });

  it("writes the documented layout", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions({ maxWritesInFlight: 2 }));
    await log.append(rec("x"));
    assert.deepEqual(await keysUnder(store, "q/"), [
      "q/manifest/00000000000000000001",
      "q/wal/00000000000000000001", // a new log has no writer to fence out
    ]);
    // Opened again without a clean close: the first writer may still have writes in flight,
    // so the new one fences the window of slots it could fill (its manifest says 2).
    const second = await openLog(store, "q", testOptions());
    assert.deepEqual(texts(second.records), ["x"]);
    await second.log.append(rec("y"));
    assert.deepEqual(await keysUnder(store, "q/wal/"), [
      "q/wal/00000000000000000001",
      "q/wal/00000000000000000002", // the fence
      "q/wal/00000000000000000003", // the rest of the window
      "q/wal/00000000000000000004",
    ]);
    const fence = await store.get("q/wal/00000000000000000002");
    assert.equal(decodeFence("q/wal/00000000000000000002", fence!.body), 2); // the writer's epoch
    // After a clean close, the next writer fences nothing.
    await second.log.close();
    const third = await openLog(store, "q", testOptions());
    await third.log.append(rec("z"));
    assert.equal((await keysUnder(store, "q/wal/")).at(-1), "q/wal/00000000000000000005");
  });

  it("works the same on a local directory, through checkpoints and GC", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-log-"));
    try {
      const store = new FileStore(dir);
      const first = await openLog(store, "queues/main", testOptions());
      const items: string[] = [];
      first.log.setSnapshotSource(() => rec(items.join(",")));
      for (let i = 0; i < 30; i++) {
        items.push(`r${i}`);
        const appended = first.log.append(rec(`r${i}`));
        if (i % 10 === 9) {
          await appended;
          await first.log.checkpoint();
        }
      }
      items.push("tail");
      await first.log.append(rec("tail"));
      // Abrupt stop: the WAL after the last checkpoint must be replayed.
      const second = await openLog(new FileStore(dir), "queues/main", testOptions());
      const checkpoint = new TextDecoder().decode(second.checkpoint!);
      assert.deepEqual([...checkpoint.split(","), ...texts(second.records)], items);
      assert.deepEqual(texts(second.records), ["tail"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("gives the event loop turns while fetching a long WAL from a store that answers without I/O", async () => {
    const store = new SlowWalReads();
    const first = await openLog(store, "q", testOptions());
    for (let i = 0; i < 60; i++) await first.log.append(rec(`r${i}`));
    await first.log.close(); // no snapshot source: the 60 batches stay to be replayed

    store.slow = true;
    const counter = turnCounter();
    store.counter = counter;
    const second = await openLog(store, "q", testOptions()).finally(() => counter.stop());
    assert.deepEqual(
      texts(second.records),
      Array.from({ length: 60 }, (_, i) => `r${i}`),
    );
    const reads = store.turnsAtRead;
    assert.ok(reads.length >= 60, `${reads.length} WAL reads`);
    // 60 ms of reads: without turns in between they would all happen in one turn.
    assert.ok(
      reads.at(-1)! - reads[0]! >= 5,
      `the loop turned ${reads.at(-1)! - reads[0]!} times during the reads`,
    );
    await second.log.close();
  });

  it("a WAL fetch from a store with latency does not yield a turn before each read", async () => {
    const store = new LatentWalReads();
    const first = await openLog(store, "q", testOptions());
    for (let i = 0; i < 400; i++) await first.log.append(rec(`r${i}`));
    await first.log.close(); // no snapshot source: the 400 batches stay to be replayed

    store.slow = true;
    const second = await openLog(store, "q", testOptions());
    assert.equal(second.records.length, 400);
    // REPLAY_CONCURRENCY lanes, 2 ms a read: the fetch takes over 12 ms, past a slice's
    // budget, but nearly all of it waiting; a lane asks its next read as soon as an answer
    // comes (the first read of each lane, and a few after a slice spent on a loaded machine,
    // come after a turn). Counting the waits, every lane yielded before each read once 4 ms
    // had passed: all 400 would come after a turn. A loaded machine spends more slices (the
    // budget is real time), so the bound is half the reads, not a tuned margin.
    const { inAnswerTurn, later } = store.asked;
    assert.ok(later <= 200, `${inAnswerTurn} reads asked at once, ${later} after a turn`);
    await second.log.close();
  });

  it("reads the WAL after the checkpoint while the checkpoint is still being read", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    await first.log.append(rec("before"));
    first.log.setSnapshotSource(() => rec("snapshot"));
    await first.log.checkpoint();
    for (let i = 0; i < 5; i++) await first.log.append(rec(`after ${i}`));
    // No close: a crash leaves the five batches after the checkpoint to replay.
    const requested: string[] = [];
    const faults = new (class extends FaultStore {
      override get(key: string) {
        requested.push(key);
        return super.get(key);
      }
    })(store);
    const held = faults.pause({ op: "get", keyPrefix: "q/checkpoint/" });
    const opening = openLog(faults, "q", testOptions());
    await held.whenHeld();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const walReads = requested.filter((key) => key.startsWith("q/wal/"));
    assert.ok(walReads.length >= 5, `WAL reads while the checkpoint is held: ${walReads.length}`);
    held.release();
    const second = await opening;
    assert.deepEqual(texts([second.checkpoint!]), ["snapshot"]);
    assert.deepEqual(
      texts(second.records),
      Array.from({ length: 5 }, (_, i) => `after ${i}`),
    );
    await second.log.close();
  });

  it("stops fetching the tail once one of its reads failed", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    for (let i = 0; i < 300; i++) await first.log.append(rec(`r${i}`));
    await first.log.close(); // no snapshot source: the 300 batches stay to be replayed
    const wal = await keysUnder(store, "q/wal/");
    const broken = wal[10]!;
    const walReads: string[] = [];
    let readsAtFailure = -1;
    let failures = 0;
    const faults = new (class extends FaultStore {
      override get(key: string) {
        if (key.startsWith("q/wal/")) walReads.push(key);
        return super.get(key);
      }
    })(store);
    faults.addRule({
      op: "get",
      keyPattern: new RegExp(`^${broken}$`),
      mode: "before",
      error: () => {
        failures++;
        readsAtFailure = walReads.length;
        return new StorageError("access denied", { permanent: true });
      },
    });
    const error = await openLog(faults, "q", testOptions()).then(
      () => assert.fail("opened a log whose WAL cannot be read"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof StorageError && error.message === "access denied", String(error));
    assert.equal(failures, 1);
    // Whatever the lanes still had in flight, none asks for more once the open failed.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(readsAtFailure > 0);
    assert.equal(
      walReads.length - readsAtFailure,
      0,
      `${walReads.length - readsAtFailure} WAL reads asked after one failed`,
    );
  });

  it("stops fetching the tail once the checkpoint could not be read", async () => {
    const store = await crashedAfterCheckpoint();
    const walReads: string[] = [];
    let readsAtFailure = -1;
    const faults = new (class extends FaultStore {
      override async get(key: string) {
        if (key.startsWith("q/wal/")) {
          walReads.push(key);
          await new Promise((resolve) => setTimeout(resolve, 1)); // a store with latency
        }
        return super.get(key);
      }
    })(store);
    // The checkpoint's read fails once the WAL fetch is under way.
    const error = await openWithCheckpointFailing(
      faults,
      () => walReads.length > 0,
      () => {
        readsAtFailure = walReads.length;
      },
    );
    assert.ok(error instanceof StorageError && error.message === "access denied", String(error));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(readsAtFailure > 0 && readsAtFailure < 300, `${readsAtFailure} WAL reads before`);
    assert.equal(
      walReads.length - readsAtFailure,
      0,
      `${walReads.length - readsAtFailure} WAL reads asked after the checkpoint's failed`,
    );
  });

  it("stops listing the tail once the checkpoint could not be read", async () => {
    const store = await crashedAfterCheckpoint();
    let walLists = 0;
    let listsAtFailure = -1;
    const faults = new (class extends FaultStore {
      override async list(prefix: string, options: ListOptions = {}) {
        if (prefix.startsWith("q/wal/")) {
          walLists++;
          await new Promise((resolve) => setTimeout(resolve, 1)); // a store with latency
        }
        return super.list(prefix, { ...options, limit: 10 }); // 30 pages of WAL keys
      }
    })(store);
    const error = await openWithCheckpointFailing(
      faults,
      () => walLists > 0,
      () => {
        listsAtFailure = walLists;
      },
    );
    assert.ok(error instanceof StorageError && error.message === "access denied", String(error));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(listsAtFailure > 0 && listsAtFailure < 30, `${listsAtFailure} WAL pages before`);
    assert.equal(
      walLists - listsAtFailure,
      0,
      `${walLists - listsAtFailure} WAL pages listed after`,
    );
  });

  it("a read waiting to retry ends when another read of the tail failed", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    for (let i = 0; i < 100; i++) await first.log.append(rec(`r${i}`));
    await first.log.close();
    const wal = await keysUnder(store, "q/wal/");
    const faults = new FaultStore(store);
    let transient = 0;
    faults.addRule({
      op: "get",
      keyPattern: new RegExp(`^${wal[5]}$`),
      mode: "before",
      error: () => {
        transient++;
        return new StorageError("slow down");
      },
    });
    faults.addRule({
      op: "get",
      keyPattern: new RegExp(`^${wal[60]}$`),
      mode: "before",
      error: () => new StorageError("access denied", { permanent: true }),
    });
    const timers = (): number =>
      process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
    const before = timers();
    // The first retry waits 2.5 s or more: only a wake-up ends it sooner.
    const options = testOptions({
      retry: { baseDelayMs: 5_000, maxDelayMs: 5_000, maxElapsedMs: 60_000 },
    });
    const error = await openLog(faults, "q", options).then(
      () => assert.fail("opened a log whose WAL cannot be read"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof StorageError && error.message === "access denied", String(error));
    assert.equal(transient, 1);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(timers() - before, 0, "timers still held by a read waiting to retry");
    assert.equal(transient, 1);
  });

  it("reports a missing checkpoint first, whatever else of the tail is missing", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    first.log.setSnapshotSource(() => rec("snapshot"));
    await first.log.append(rec("before"));
    await first.log.checkpoint();
    for (let i = 0; i < 3; i++) await first.log.append(rec(`after ${i}`));
    const [checkpoint] = await keysUnder(store, "q/checkpoint/");
    const wal = await keysUnder(store, "q/wal/");
    await store.delete(checkpoint!);
    await store.delete(wal.at(-1)!);
    const error = await openLog(store, "q", testOptions()).then(
      () => assert.fail("opened a log without its checkpoint"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CorruptionError);
    assert.equal(error.objectKey, checkpoint);
  });
});
