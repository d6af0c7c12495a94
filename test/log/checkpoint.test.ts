import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ManualClock } from "../../src/clock.js";
import { FencedError } from "../../src/errors.js";
import {
  FIRST_CHECKPOINT_BACKOFF_MS,
  MAX_CHECKPOINT_BACKOFF_BOUNDS,
  MAX_CHECKPOINT_BACKOFF_MS,
} from "../../src/log/checkpoint-backoff.js";
import {
  CHECKPOINT_BYTES_PER_WAL_BATCH,
  MIN_BATCH_CHECKPOINT_SPACING_MS,
  MIN_CHECKPOINT_WAL_BATCHES,
  SPACED_CREATE_MS,
  SPACING_BATCH_FACTOR,
} from "../../src/log/checkpoint-policy.js";
import { isFenceSize } from "../../src/log/codec.js";
import type { Log, RecoveredLog } from "../../src/log/index.js";
import { inspectLog, openLog } from "../../src/log/index.js";
import { MAX_HOLD_MS } from "../../src/log/producer-hold.js";
import { MemoryStore } from "../../src/store/memory.js";
import { type ListOptions, type ListPage, listAll } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { keysUnder, rec, testOptions, texts } from "./helpers.js";

/** A toy state machine: the state is the list of every record's text. */
class ListState {
  readonly items: string[] = [];

  constructor(recovered: RecoveredLog) {
    if (recovered.checkpoint !== null) {
      this.items.push(...(JSON.parse(new TextDecoder().decode(recovered.checkpoint)) as string[]));
    }
    this.items.push(...texts(recovered.records));
    recovered.log.setSnapshotSource(() => rec(JSON.stringify(this.items)));
  }

  append(log: Log, text: string): Promise<void> {
    this.items.push(text);
    return log.append(rec(text));
  }
}

async function walObjects(store: MemoryStore): Promise<{ id: number; size: number }[]> {
  return (await listAll(store, "q/wal/")).map((o) => ({
    id: Number(o.key.slice("q/wal/".length)),
    size: o.size,
  }));
}

/** Counts the listings of the WAL (one per GC pass once the log is open). */
class WalListingStore extends MemoryStore {
  walLists = 0;

  override list(prefix: string, options?: ListOptions): Promise<ListPage> {
    if (prefix === "q/wal/") this.walLists++;
    return super.list(prefix, options);
  }
}

/** Lets pending promise callbacks and immediate timers run (no time passes on a manual clock). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2_500 && !condition(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(condition(), "condition reached in time");
}

/**
 * Appends `batches` batches of one record (`prefix` and a number) to `log`:
 * no checkpoint starts beyond the `written` ones; one batch more starts one.
 */
async function assertCheckpointPast(
  log: Log,
  batches: number,
  prefix: string,
  written: number,
): Promise<void> {
  for (let i = 0; i < batches; i++) await log.append(rec(`${prefix}${i}`));
  await settle();
  assert.equal(log.stats().checkpointsWritten, written);
  await log.append(rec("one more"));
  await waitFor(() => log.stats().checkpointsWritten === written + 1);
}

/**
 * A log whose checkpoint puts the store refuses, with `bound` records per
 * checkpoint and a short retry window (0: a refused put fails at once); on
 * `clock` when given (then with no batching window, which only its
 * `advance` would end).
 */
async function openRefusingCheckpoints(bound: number, retryMs: number, clock?: ManualClock) {
  const store = new MemoryStore();
  const faults = new FaultStore(store);
  const logger = recordingLogger();
  const recovered = await openLog(
    faults,
    "q",
    testOptions({
      checkpointWalRecords: bound,
      logger,
      retry: {
        baseDelayMs: 1,
        maxDelayMs: Math.max(1, Math.min(5, retryMs)),
        maxElapsedMs: retryMs,
      },
      ...(clock === undefined ? {} : { clock, flushIntervalMs: 0 }),
    }),
  );
  faults.addRule({ op: "put", keyPattern: /\/checkpoint\//, mode: "before" });
  return { faults, logger, log: recovered.log, state: new ListState(recovered), store };
}

/**
 * Appends records to `log`, each its own durable batch (each asks the
 * checkpoint policy), and waits for a background checkpoint a batch started.
 */
function batchesOf(log: Log, state: ListState) {
  return async (label: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await state.append(log, `${label}${i}`);
      // Maintenance runs one task at a time: a background attempt the batch started has ended.
      await log.collectGarbage();
    }
  };
}

/** How a promise settled so far. */
function outcomeOf(promise: Promise<unknown>): { state: string; error: unknown } {
  const outcome: { state: string; error: unknown } = { state: "pending", error: null };
  promise.then(
    () => {
      outcome.state = "resolved";
    },
    (error: unknown) => {
      outcome.state = "rejected";
      outcome.error = error;
    },
  );
  return outcome;
}

/**
 * A log (bound 5, on a manual clock) whose first checkpoint committed and
 * whose second hangs at its put while producers are held: 12 records past
 * the committed one, over twice the bound.
 */
async function openHeldOnCheckpoint() {
  const clock = new ManualClock();
  const store = new MemoryStore();
  const faults = new FaultStore(store);
  const logger = recordingLogger();
  const recovered = await openLog(
    faults,
    "q",
    testOptions({ checkpointWalRecords: 5, clock, logger, flushIntervalMs: 0 }),
  );
  const { log } = recovered;
  const state = new ListState(recovered);
  for (let i = 0; i < 6; i++) await state.append(log, `a${i}`);
  await log.collectGarbage();
  assert.equal(log.stats().checkpointsWritten, 1);
  const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
  for (let i = 0; i < 6; i++) await state.append(log, `b${i}`);
  await stall.whenHeld();
  for (let i = 0; i < 6; i++) await state.append(log, `c${i}`);
  assert.equal(log.isWritable(), false, "held");
  return { clock, logger, log, stall, state, store };
}

describe("log checkpoints and garbage collection", { timeout: 60_000 }, () => {
  it("after many appends, checkpoints and reopens, GC keeps exactly what recovery needs", async () => {
    const store = new MemoryStore();
    const options = testOptions({ checkpointWalBytes: 300, manifestHistory: 2 });
    const expected: string[] = [];
    let opens = 0;
    let current: { recovered: RecoveredLog; state: ListState } | null = null;
    for (let round = 0; round < 6; round++) {
      const recovered = await openLog(store, "q", options);
      opens++;
      const state = new ListState(recovered);
      assert.deepEqual(state.items, expected);
      current = { recovered, state };
      for (let i = 0; i < 40; i++) {
        const text = `r${round}-${i}`;
        expected.push(text);
        const pending = state.append(recovered.log, text);
        if (i % 3 === 0) await pending;
      }
      await recovered.log.flush();
      // Rounds alternate between a clean close and an abrupt stop.
      if (round % 2 === 0) await recovered.log.close();
    }
    const { log } = current!.recovered;
    await log.checkpoint();
    await log.collectGarbage();
    assert.ok(log.stats().checkpointsWritten >= 1);

    const info = await inspectLog(store, "q");
    const replayAfter = info.manifest!.replayAfter;
    const wal = await walObjects(store);
    // Every batch the checkpoint covers is gone; the fences are still there (younger than
    // fenceMinAgeMs): a window of four for each open after an abrupt stop, none after a
    // clean close or for a new log.
    assert.deepEqual(
      wal.filter((o) => !isFenceSize(o.size) && o.id <= replayAfter),
      [],
    );
    assert.equal(opens, 6);
    assert.equal(wal.filter((o) => isFenceSize(o.size)).length, 2 * 4);
    assert.ok(info.manifests <= 3, `manifests kept: ${info.manifests}`);
    const checkpoints = await keysUnder(store, "q/checkpoint/");
    assert.ok(checkpoints.length <= 3, `checkpoints kept: ${checkpoints.length}`);
    assert.ok(checkpoints.includes(info.checkpoint!.key));

    const reopened = await openLog(store, "q", options);
    assert.deepEqual(new ListState(reopened).items, expected);
  });

  it("a clean close writes a final checkpoint, so reopening replays nothing", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    const state = new ListState(first);
    await state.append(first.log, "a");
    await state.append(first.log, "b");
    await first.log.close();
    await first.log.close(); // idempotent
    assert.equal(await rejectionCode(first.log.append(rec("c"))), "CLOSED");
    assert.equal(await rejectionCode(first.log.checkpoint()), "CLOSED");
    assert.equal(await rejectionCode(first.log.collectGarbage()), "CLOSED");

    const second = await openLog(store, "q", testOptions());
    assert.deepEqual(second.records, []);
    assert.deepEqual(new ListState(second).items, ["a", "b"]);
  });

  it("checkpoints in the background once the WAL outgrows the threshold", async () => {
    const store = new MemoryStore();
    const recovered = await openLog(store, "q", testOptions({ checkpointWalBytes: 200 }));
    const state = new ListState(recovered);
    for (let i = 0; i < 30; i++) await state.append(recovered.log, `record-${i}`);
    await waitFor(() => recovered.log.stats().checkpointsWritten > 0);
    assert.ok(recovered.log.stats().walBytesSinceCheckpoint < 400);
  });

  it("checkpoints in the background once enough WAL batches piled up", async () => {
    const store = new MemoryStore();
    const recovered = await openLog(store, "q", testOptions({ checkpointWalBatches: 5 }));
    const state = new ListState(recovered);
    // Five batches (a new log has no fence): not more than the limit yet.
    for (let i = 0; i < 5; i++) await state.append(recovered.log, `b${i}`);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    await state.append(recovered.log, "b5");
    await waitFor(() => recovered.log.stats().checkpointsWritten === 1);
  });

  it("with a small state, checkpoints after 256 WAL batches by default, at most once a second", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({ clock, flushIntervalMs: 0 });
    const recovered = await openLog(store, "q", options);
    const state = new ListState(recovered);
    for (let i = 0; i < MIN_CHECKPOINT_WAL_BATCHES; i++) await state.append(recovered.log, `b${i}`);
    await settle();
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    // Past the bound, but within a second of the open: not yet.
    await state.append(recovered.log, "one more");
    await settle();
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    clock.advance(MIN_BATCH_CHECKPOINT_SPACING_MS - 1);
    await state.append(recovered.log, "two more");
    await settle();
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    clock.advance(1);
    await state.append(recovered.log, "three more");
    await waitFor(() => recovered.log.stats().checkpointsWritten === 1);
    // A crash now leaves a tail of at most that many batches for the next open to read.
    await recovered.log.append(rec("after"));
    const reopened = await openLog(store, "q", options);
    assert.equal(reopened.tail.count, 1);
    await reopened.log.close();
  });

  it("however soon after the last checkpoint, a tail of four times the size-based batch bound makes one due", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const recovered = await openLog(store, "q", testOptions({ clock, flushIntervalMs: 0 }));
    const state = new ListState(recovered);
    const tail = SPACING_BATCH_FACTOR * MIN_CHECKPOINT_WAL_BATCHES;
    for (let i = 0; i < tail; i++) await state.append(recovered.log, `b${i}`);
    await settle();
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    await state.append(recovered.log, "one more");
    await waitFor(() => recovered.log.stats().checkpointsWritten === 1);
    // A given checkpointWalBatches is the bound as it stands, with no spacing.
    const given = await openLog(
      new MemoryStore(),
      "q",
      testOptions({ clock, flushIntervalMs: 0, checkpointWalBatches: 3 }),
    );
    const givenState = new ListState(given);
    for (let i = 0; i < 4; i++) await givenState.append(given.log, `g${i}`);
    await waitFor(() => given.log.stats().checkpointsWritten === 1);
    await given.log.close();
    await recovered.log.close();
  });

  it("on a store whose WAL creates take longer than SPACED_CREATE_MS, the batch bound is not spaced", async () => {
    const clock = new ManualClock();
    // Each put takes 3 ms on the clock: 257 batches take well under a second.
    const createMs = SPACED_CREATE_MS + 1;
    const store = new (class extends MemoryStore {
      override put(...args: Parameters<MemoryStore["put"]>): ReturnType<MemoryStore["put"]> {
        clock.advance(createMs);
        return super.put(...args);
      }
    })();
    const recovered = await openLog(store, "q", testOptions({ clock, flushIntervalMs: 0 }));
    const state = new ListState(recovered);
    for (let i = 0; i < MIN_CHECKPOINT_WAL_BATCHES; i++) await state.append(recovered.log, `b${i}`);
    await settle();
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    await state.append(recovered.log, "one more");
    await waitFor(() => recovered.log.stats().checkpointsWritten === 1);
    assert.ok(
      (MIN_CHECKPOINT_WAL_BATCHES + 1) * createMs < MIN_BATCH_CHECKPOINT_SPACING_MS,
      "the test's batches take less than the spacing",
    );
    await recovered.log.close();
  });

  it("spaced, the tail never passes checkpointWalBatches (4,096 by default)", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({ clock, flushIntervalMs: 0 });
    const recovered = await openLog(store, "q", options);
    // A state of 1,100 × 16 KiB: a bound of 1,100 batches, four times which is past 4,096.
    const bound = 1_100;
    recovered.log.setSnapshotSource(() => new Uint8Array(bound * CHECKPOINT_BYTES_PER_WAL_BATCH));
    await recovered.log.checkpoint();
    await assertCheckpointPast(recovered.log, 4_096, "b", 1);
    await recovered.log.close();
  });

  it("a rare slow WAL create does not switch the spacing off", async () => {
    const clock = new ManualClock();
    // Creates take 1 ms, every 16th 30 ms: averaged as they are, the average would pass
    // SPACED_CREATE_MS for several batches after each slow one.
    let puts = 0;
    const store = new (class extends MemoryStore {
      override put(...args: Parameters<MemoryStore["put"]>): ReturnType<MemoryStore["put"]> {
        clock.advance(++puts % 16 === 0 ? 30 : 1);
        return super.put(...args);
      }
    })();
    const opened = clock.monotonicNow();
    const recovered = await openLog(store, "q", testOptions({ clock, flushIntervalMs: 0 }));
    const state = new ListState(recovered);
    // Past the bound by a whole cycle of slow creates, still within a second of the open.
    for (let i = 0; i < MIN_CHECKPOINT_WAL_BATCHES + 17; i++) {
      await state.append(recovered.log, `b${i}`);
      await settle();
    }
    assert.ok(clock.monotonicNow() - opened < MIN_BATCH_CHECKPOINT_SPACING_MS);
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    await recovered.log.close();
  });

  it("a cold start's slow WAL creates do not switch the spacing off", async () => {
    const clock = new ManualClock();
    // A fresh process on a local disk: its first creates are slow (the file store's writer
    // thread not yet up, code not yet optimised), and then a third of them still are (long
    // turns of the event loop before their completion is seen). Most take 1 ms: the store is
    // fast, though the creates' mean is well over SPACED_CREATE_MS.
    let puts = 0;
    const store = new (class extends MemoryStore {
      override put(...args: Parameters<MemoryStore["put"]>): ReturnType<MemoryStore["put"]> {
        puts++;
        clock.advance(puts <= 8 ? 10 : puts % 3 === 0 ? 6 : 1);
        return super.put(...args);
      }
    })();
    const opened = clock.monotonicNow();
    const recovered = await openLog(store, "q", testOptions({ clock, flushIntervalMs: 0 }));
    const state = new ListState(recovered);
    for (let i = 0; i < MIN_CHECKPOINT_WAL_BATCHES + 8; i++) {
      await state.append(recovered.log, `b${i}`);
      await settle();
    }
    assert.ok(clock.monotonicNow() - opened < MIN_BATCH_CHECKPOINT_SPACING_MS);
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    // Past the second, the checkpoint the bound made due is written.
    clock.advance(MIN_BATCH_CHECKPOINT_SPACING_MS);
    await state.append(recovered.log, "after a second");
    await waitFor(() => recovered.log.stats().checkpointsWritten === 1);
    await recovered.log.close();
  });

  it("lets the WAL batch threshold grow with the checkpoint by default; a given checkpointWalBatches is the bound", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const bound = 2 * MIN_CHECKPOINT_WAL_BATCHES;
    const options = testOptions({ clock, flushIntervalMs: 0 });
    const recovered = await openLog(store, "q", options);
    // A snapshot of 512 × 16 KiB allows 512 batches before the next checkpoint.
    recovered.log.setSnapshotSource(() => new Uint8Array(bound * CHECKPOINT_BYTES_PER_WAL_BATCH));
    await recovered.log.checkpoint();
    clock.advance(MIN_BATCH_CHECKPOINT_SPACING_MS);
    await assertCheckpointPast(recovered.log, bound, "b", 1);
    await recovered.log.close();

    // Given, checkpointWalBatches is the bound, below or above the size-based one.
    const capped = await openLog(store, "q", { ...options, checkpointWalBatches: 300 });
    capped.log.setSnapshotSource(() => new Uint8Array(bound * CHECKPOINT_BYTES_PER_WAL_BATCH));
    await assertCheckpointPast(capped.log, 300, "c", 0);
    await capped.log.close();

    const small = await openLog(new MemoryStore(), "q", { ...options, checkpointWalBatches: 600 });
    small.log.setSnapshotSource(() => new Uint8Array(8)); // a small state: 256 by default
    await assertCheckpointPast(small.log, 600, "d", 0);
    await small.log.close();
  });

  it("checkpoints in the background once enough records piled up, counting those replayed at open", async () => {
    const store = new MemoryStore();
    const options = testOptions({ checkpointWalRecords: 10 });
    const first = await openLog(store, "q", options);
    const firstState = new ListState(first);
    for (let i = 0; i < 2; i++) {
      firstState.items.push(`a${i}`, `b${i}`, `c${i}`, `d${i}`);
      await first.log.append([rec(`a${i}`), rec(`b${i}`), rec(`c${i}`), rec(`d${i}`)]);
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(first.log.stats().checkpointsWritten, 0);
    assert.equal(first.log.stats().walRecordsSinceCheckpoint, 8);

    // A crash: the next writer replays the 8 records, and they count towards its threshold.
    const second = await openLog(store, "q", options);
    const state = new ListState(second);
    assert.equal(second.log.stats().walRecordsSinceCheckpoint, 8);
    await state.append(second.log, "e");
    await state.append(second.log, "f");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(second.log.stats().checkpointsWritten, 0, "10 records are not more than 10");
    await state.append(second.log, "g");
    await waitFor(() => second.log.stats().checkpointsWritten === 1);
    assert.equal(second.log.stats().walRecordsSinceCheckpoint, 0);
    await second.log.close();
    const third = await openLog(store, "q", options);
    assert.equal(third.tail.count, 0);
    assert.equal(new ListState(third).items.length, 11);
    await third.log.close();
  });

  it("lets the record threshold grow with the checkpoint: its bytes ÷ 1024", async () => {
    const store = new MemoryStore();
    const recovered = await openLog(store, "q", testOptions({ checkpointWalRecords: 1 }));
    // A snapshot of 20 × 1024 bytes allows 20 records before the next checkpoint.
    recovered.log.setSnapshotSource(() => new Uint8Array(20 * 1024));
    await recovered.log.checkpoint();
    assert.equal(recovered.log.stats().checkpointsWritten, 1);
    for (let i = 0; i < 20; i++) await recovered.log.append(rec(`r${i}`));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(recovered.log.stats().checkpointsWritten, 1);
    await recovered.log.append(rec("r20"));
    await waitFor(() => recovered.log.stats().checkpointsWritten === 2);
  });

  it("checkpoints in the background once the interval passed with writes", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({ clock, flushIntervalMs: 0, checkpointIntervalMs: 60_000 });
    const recovered = await openLog(store, "q", options);
    const state = new ListState(recovered);
    await state.append(recovered.log, "early");
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    clock.advance(60_000);
    await state.append(recovered.log, "late");
    await waitFor(() => recovered.log.stats().checkpointsWritten === 1);
    assert.equal(recovered.log.stats().lastCheckpointAt, clock.now());
  });

  it("a checkpoint whose cleanup outlasts checkpointIntervalMs leaves the event loop running", async () => {
    // In a thread of its own: a loop of promises there cannot starve this test's timers.
    const fixture = fileURLToPath(new URL("./fixtures/slow-gc-checkpoint.js", import.meta.url));
    const worker = new Worker(fixture);
    const deadline = new AbortController();
    const reply = await Promise.race([
      once(worker, "message").then(([message]) => message as unknown),
      once(worker, "error").then(([error]) => ({ error: String(error) })),
      sleep(20_000, undefined, { signal: deadline.signal }).then(
        () => "no reply in 20 s: the thread's event loop is starved",
        () => "",
      ),
    ]);
    deadline.abort();
    await worker.terminate();
    assert.deepEqual(reply, { afterCleanup: 1, checkpointsWritten: 2 });
  });

  it("a reopened log reports the time of the checkpoint it opened from until it writes its own", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({ clock, flushIntervalMs: 0 });
    const first = await openLog(store, "q", options);
    assert.equal(first.log.stats().lastCheckpointAt, null, "a new store has none");
    first.log.setSnapshotSource(() => new Uint8Array(8));
    await first.log.append(rec("a"));
    clock.advance(1_000);
    const checkpointedAt = clock.now();
    await first.log.close(); // writes a final checkpoint
    clock.advance(5_000);
    const second = await openLog(store, "q", options);
    assert.equal(second.log.stats().lastCheckpointAt, checkpointedAt);
    assert.equal(second.log.stats().checkpointsWritten, 0, "written by this writer");
    assert.equal((await inspectLog(store, "q")).checkpoint?.createdAt, checkpointedAt);
    second.log.setSnapshotSource(() => new Uint8Array(8));
    await second.log.append(rec("b"));
    clock.advance(1_000);
    await second.log.checkpoint();
    assert.equal(second.log.stats().lastCheckpointAt, clock.now());
    await second.log.close();
  });

  it("a slow checkpoint does not block appends, and only one runs at a time", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const recovered = await openLog(faults, "q", testOptions());
    const state = new ListState(recovered);
    await state.append(recovered.log, "before");
    const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    const firstCheckpoint = recovered.log.checkpoint();
    await stall.whenHeld();
    await state.append(recovered.log, "during"); // durable while the checkpoint is stuck
    const secondCheckpoint = recovered.log.checkpoint();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stall.held(), 1);
    stall.release();
    await Promise.all([firstCheckpoint, secondCheckpoint]);
    assert.equal(recovered.log.stats().checkpointsWritten, 2);

    const reopened = await openLog(inner, "q", testOptions());
    assert.deepEqual(new ListState(reopened).items, ["before", "during"]);
  });

  it("a checkpoint made due while another was written starts when that one ends, with no further batch", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const recovered = await openLog(faults, "q", testOptions({ checkpointWalRecords: 5 }));
    const state = new ListState(recovered);
    const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    for (let i = 0; i < 6; i++) await state.append(recovered.log, `a${i}`);
    await stall.whenHeld();
    // Durable while the first checkpoint is stuck: past the bound again, but one runs already.
    for (let i = 0; i < 6; i++) await state.append(recovered.log, `b${i}`);
    stall.release();
    await waitFor(() => recovered.log.stats().checkpointsWritten === 2);
    assert.equal(recovered.log.stats().walRecordsSinceCheckpoint, 0);
    await recovered.log.close();
    const reopened = await openLog(inner, "q", testOptions());
    assert.equal(reopened.tail.count, 0, "nothing left to replay");
    assert.deepEqual(new ListState(reopened).items, state.items);
  });

  it("holds producers while a checkpoint is written and the WAL since the last one is past twice the record bound", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const recovered = await openLog(faults, "q", testOptions({ checkpointWalRecords: 5 }));
    const state = new ListState(recovered);
    const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    // Six records pass the bound of five: a checkpoint starts and sticks at its put.
    for (let i = 0; i < 6; i++) await state.append(recovered.log, `a${i}`);
    await stall.whenHeld();
    for (let i = 0; i < 4; i++) await state.append(recovered.log, `b${i}`);
    assert.equal(recovered.log.isWritable(), true, "10 records a crash would replay: within 2 × 5");
    await state.append(recovered.log, "c"); // appends themselves are never refused
    assert.equal(recovered.log.isWritable(), false, "11 records a crash would replay: held");
    let writable = false;
    const waiting = recovered.log.whenWritable().then(() => {
      writable = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(writable, false, "held until the checkpoint is committed");

    stall.release();
    await waiting;
    assert.equal(recovered.log.stats().checkpointsWritten, 1);
    assert.equal(recovered.log.isWritable(), true);
    // The checkpoint covers the six records at its cut; the five after it count towards the next.
    assert.equal(recovered.log.stats().walRecordsSinceCheckpoint, 5);
    const reopened = await openLog(inner, "q", testOptions());
    assert.deepEqual(new ListState(reopened).items, state.items);
  });

  it("a checkpoint that fails lets the producers it held go ahead", async () => {
    const faults = new FaultStore(new MemoryStore());
    const options = testOptions({
      checkpointWalRecords: 5,
      retry: { baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 50 },
    });
    const recovered = await openLog(faults, "q", options);
    const state = new ListState(recovered);
    const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    for (let i = 0; i < 6; i++) await state.append(recovered.log, `a${i}`);
    await stall.whenHeld();
    for (let i = 0; i < 5; i++) await state.append(recovered.log, `b${i}`);
    assert.equal(recovered.log.isWritable(), false);
    const waiting = recovered.log.whenWritable();
    faults.addRule({ op: "put", keyPattern: /\/checkpoint\//, mode: "before" });
    stall.release();
    await waiting; // resolves (the failed checkpoint is retried after the next durable batch)
    assert.equal(recovered.log.stats().checkpointsWritten, 0);
    assert.equal(recovered.log.isWritable(), true);
    assert.equal(recovered.log.stats().walRecordsSinceCheckpoint, 11);
  });

  it("a writer fenced while its checkpoint holds producers lets them go without calling it a failed checkpoint", async () => {
    const { logger, log, stall, state, store } = await openHeldOnCheckpoint();
    const held = outcomeOf(log.whenWritable());
    const successor = await openLog(store, "q", testOptions()); // fences this writer
    stall.release();
    await log.collectGarbage().catch(() => {}); // queued behind the checkpoint: it ended
    await settle();
    assert.notEqual(held.state, "pending", "the held producer is not left waiting");
    assert.deepEqual(
      logger.messages("warn").filter((w) => w.includes("checkpoint failed")),
      [],
      "being fenced is not a failed checkpoint: no warning, no suspended hold",
    );
    await assert.rejects(state.append(log, "late"), FencedError);
    await successor.log.close();
  });

  it("held producers reject as soon as the log fails, while the checkpoint still hangs", async () => {
    const { clock, logger, log, stall, store } = await openHeldOnCheckpoint();
    const held = outcomeOf(log.whenWritable());
    const successor = await openLog(store, "q", testOptions());
    // An append that is not held (as a claim's): its WAL write is fenced and fails the log.
    await assert.rejects(log.append(rec("claim")), FencedError);
    await settle();
    assert.equal(held.state, "rejected", "rejected at once, not when the checkpoint ends");
    assert.ok(held.error instanceof FencedError);
    // The hold of a failed log is over: its timer does not go off later as a late checkpoint.
    clock.advance(MAX_HOLD_MS);
    await settle();
    assert.deepEqual(logger.messages("warn"), []);
    stall.release();
    await log.collectGarbage().catch(() => {});
    await successor.log.close();
  });

  it("after a failed checkpoint, producers are not held until one commits again (one warning)", async () => {
    const clock = new ManualClock();
    const { faults, logger, log, state } = await openRefusingCheckpoints(5, 0, clock);
    for (let i = 0; i < 6; i++) await state.append(log, `a${i}`);
    // Queued behind the background attempt the sixth record started: both fail.
    await assert.rejects(log.checkpoint());
    const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    clock.advance(FIRST_CHECKPOINT_BACKOFF_MS); // the failed background attempt's backoff
    await state.append(log, "b"); // seven past the checkpoint: another attempt starts, and sticks
    await stall.whenHeld();
    for (let i = 0; i < 5; i++) await state.append(log, `c${i}`);
    assert.equal(log.stats().walRecordsSinceCheckpoint, 12);
    assert.equal(log.isWritable(), true, "past 2 × 5 during a retried checkpoint: not held");
    const suspended = logger.messages("warn").filter((w) => w.includes("producers are not held"));
    assert.equal(suspended.length, 1, logger.messages("warn").join("; "));

    // Once a checkpoint commits, producers are held again while the next one is written.
    faults.clearRules();
    stall.release();
    await log.checkpoint();
    assert.ok(log.stats().checkpointsWritten >= 1);
    const again = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    for (let i = 0; i < 6; i++) await state.append(log, `d${i}`);
    await again.whenHeld();
    for (let i = 0; i < 5; i++) await state.append(log, `e${i}`);
    assert.equal(log.isWritable(), false, "held again after a committed checkpoint");
    again.release();
    await log.whenWritable();
    await log.close();
  });

  it("a checkpoint holds producers for at most twice the last one's duration (at least a second)", async () => {
    const clock = new ManualClock();
    const faults = new FaultStore(new MemoryStore());
    const logger = recordingLogger();
    const recovered = await openLog(
      faults,
      "q",
      testOptions({ checkpointWalRecords: 5, clock, logger, flushIntervalMs: 0 }),
    );
    const { log } = recovered;
    const state = new ListState(recovered);
    const holdOnce = async (label: string, stallMs: number, limitMs: number): Promise<void> => {
      const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
      for (let i = 0; i < 6; i++) await state.append(log, `${label}a${i}`);
      await stall.whenHeld();
      for (let i = 0; i < 5; i++) await state.append(log, `${label}b${i}`);
      assert.equal(log.isWritable(), false, `${label}: held`);
      let released = false;
      const waiting = log.whenWritable().then(() => {
        released = true;
      });
      clock.advance(limitMs - 1);
      await settle();
      assert.equal(released, false, `${label}: still held just before the limit`);
      clock.advance(1);
      await waiting;
      assert.equal(log.isWritable(), true, `${label}: the late checkpoint holds no one`);
      clock.advance(stallMs - limitMs);
      const written = log.stats().checkpointsWritten;
      stall.release();
      // The background one commits, having taken `stallMs` of the clock.
      await waitFor(() => log.stats().checkpointsWritten > written);
    };
    // No checkpoint committed yet: the floor, a second. That one took 1.5 s (of the clock).
    await holdOnce("first", 1_500, 1_000);
    assert.equal(logger.messages("warn").filter((w) => w.includes("checkpoint is late")).length, 1);
    // Twice the 1.5 s the last one took.
    await holdOnce("second", 3_000, 3_000);
    // A run of late checkpoints logs one line, not one each.
    assert.equal(logger.messages("warn").filter((w) => w.includes("checkpoint is late")).length, 1);
    await log.close();
  });

  it("once a checkpoint took the longest a hold may last (10 s), producers are not held for the next", async () => {
    const clock = new ManualClock();
    const faults = new FaultStore(new MemoryStore());
    const recovered = await openLog(
      faults,
      "q",
      testOptions({ checkpointWalRecords: 5, clock, flushIntervalMs: 0 }),
    );
    const { log } = recovered;
    const state = new ListState(recovered);
    const stall = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    for (let i = 0; i < 6; i++) await state.append(log, `a${i}`);
    await stall.whenHeld();
    clock.advance(12_000); // the first checkpoint takes 12 s of the clock
    stall.release();
    await waitFor(() => log.stats().checkpointsWritten === 1);
    const next = faults.pause({ op: "put", keyPrefix: "q/checkpoint/" });
    for (let i = 0; i < 6; i++) await state.append(log, `b${i}`);
    await next.whenHeld();
    for (let i = 0; i < 6; i++) await state.append(log, `c${i}`);
    assert.equal(log.isWritable(), true, "a hold of at most 10 s cannot cover a 12 s checkpoint");
    next.release();
    await waitFor(() => log.stats().checkpointsWritten >= 2);
    await log.close();
  });

  it("a checkpoint refused every time logs one warning for the run of failures", async () => {
    const { faults, logger, log, state } = await openRefusingCheckpoints(2, 5);
    for (let i = 0; i < 40; i++) await state.append(log, `a${i}`);
    await new Promise((r) => setTimeout(r, 50));
    const failed = logger
      .messages("warn")
      .filter((w) => w.includes("background checkpoint failed"));
    assert.equal(failed.length, 1, logger.messages("warn").join("; "));
    faults.clearRules();
    await log.close();
  });

  it("a refused background checkpoint is retried after a backoff on the clock, not after every batch", async () => {
    const clock = new ManualClock();
    // A bound no round below reaches: only the clock ends these waits.
    const bound = 50;
    const { faults, logger, log, state, store } = await openRefusingCheckpoints(bound, 0, clock);
    let snapshots = 0;
    log.setSnapshotSource(() => {
      snapshots++;
      return rec(JSON.stringify(state.items));
    });
    const batches = batchesOf(log, state);
    await batches("a", bound + 1); // past the bound: the first attempt, refused
    assert.equal(snapshots, 1);
    await batches("b", 20);
    assert.equal(snapshots, 1, "twenty batches within the backoff: no further snapshot");
    assert.equal(faults.injectedCount, 1, "nor a further put");
    clock.advance(FIRST_CHECKPOINT_BACKOFF_MS - 1);
    await batches("c", 1);
    assert.equal(snapshots, 1, "just before the backoff ends");
    clock.advance(1);
    await batches("d", 3);
    assert.equal(snapshots, 2, "once it ended: one more attempt, refused");
    // The backoff doubles with each failure of the run, up to a minute.
    for (let wait = 2 * FIRST_CHECKPOINT_BACKOFF_MS, n = 3; n <= 10; n++) {
      clock.advance(wait - 1);
      await batches(`e${n}`, 2);
      assert.equal(snapshots, n - 1, `${n - 1} attempts: still within a wait of ${wait} ms`);
      clock.advance(1);
      await batches(`f${n}`, 2);
      assert.equal(snapshots, n, `the attempt after a wait of ${wait} ms`);
      wait = Math.min(MAX_CHECKPOINT_BACKOFF_MS, 2 * wait);
    }
    assert.equal(log.stats().checkpointsWritten, 0);
    const failed = () =>
      logger.messages("warn").filter((w) => w.includes("background checkpoint failed"));
    assert.equal(failed().length, 1, "one line for the run of failures");

    // The store takes checkpoints again: the next attempt, after the current wait, commits.
    faults.clearRules();
    clock.advance(MAX_CHECKPOINT_BACKOFF_MS);
    await batches("g", 1);
    await waitFor(() => log.stats().checkpointsWritten === 1);
    assert.equal(log.stats().walRecordsSinceCheckpoint, 0);
    // The usual cadence again: a checkpoint as soon as the bound is passed, no clock needed.
    await batches("h", bound + 1);
    await waitFor(() => log.stats().checkpointsWritten === 2);
    // And a new run of failures starts again from the first, shortest wait.
    faults.addRule({ op: "put", keyPattern: /\/checkpoint\//, mode: "before" });
    const before = snapshots;
    await batches("i", bound + 1);
    assert.equal(snapshots, before + 1);
    assert.equal(failed().length, 2, "a new run of failures: a new line");
    clock.advance(FIRST_CHECKPOINT_BACKOFF_MS);
    await batches("j", 1);
    assert.equal(snapshots, before + 2, "the backoff restarted at a second");
    faults.clearRules();
    await log.close();
    // The WAL took every record throughout: a reopen has them all.
    const reopened = await openLog(store, "q", testOptions());
    assert.deepEqual(new ListState(reopened).items, state.items);
  });

  it("a refusing store is asked again after the record bound, then twice that after each failure, up to 8 bounds", async () => {
    const clock = new ManualClock(); // never advanced: only records end the waits
    const bound = 5;
    const { log, state } = await openRefusingCheckpoints(bound, 0, clock);
    const attemptsAt: number[] = [];
    log.setSnapshotSource(() => {
      attemptsAt.push(state.items.length);
      return rec(JSON.stringify(state.items));
    });
    await batchesOf(log, state)("a", 1_000);
    // The first past the bound (6); then each one more than the last failure plus
    // 1, 2, 4, then 8 bounds of records: 12, 23, 44, 85, then 41 apart.
    const expected = [bound + 1];
    for (let bounds = 1; ; bounds = Math.min(MAX_CHECKPOINT_BACKOFF_BOUNDS, 2 * bounds)) {
      const next = expected[expected.length - 1]! + bounds * bound + 1;
      if (next > 1_000) break;
      expected.push(next);
    }
    assert.equal(expected.length, 27);
    assert.deepEqual(expected.slice(0, 7), [6, 12, 23, 44, 85, 126, 167]);
    assert.deepEqual(attemptsAt, expected, "27 snapshots for a thousand batches, not one each");
    assert.equal(log.stats().checkpointsWritten, 0);
  });

  it("a store that recovers during a long backoff gets a checkpoint within 8 record bounds, not a minute later", async () => {
    const clock = new ManualClock();
    const bound = 5;
    const { faults, log, state, store } = await openRefusingCheckpoints(bound, 0, clock);
    let snapshots = 0;
    log.setSnapshotSource(() => {
      snapshots++;
      return rec(JSON.stringify(state.items));
    });
    const batches = batchesOf(log, state);
    await batches("a", bound + 1); // the first attempt, refused
    // Ten more, each started by the clock with one batch: the wait is at its minute.
    for (let i = 0; i < 10; i++) {
      clock.advance(MAX_CHECKPOINT_BACKOFF_MS);
      await batches(`r${i}`, 1);
    }
    assert.equal(snapshots, 11);
    faults.clearRules(); // the store takes checkpoints again, early in a minute's wait
    // Full ingest, no time passing: up to 8 bounds past the last failure, no attempt.
    await batches("h", MAX_CHECKPOINT_BACKOFF_BOUNDS * bound);
    assert.equal(snapshots, 11);
    assert.equal(log.stats().checkpointsWritten, 0);
    assert.equal(log.stats().walRecordsSinceCheckpoint, 16 + MAX_CHECKPOINT_BACKOFF_BOUNDS * bound);
    await batches("x", 1); // past it: the retry, which commits
    assert.equal(snapshots, 12);
    assert.equal(log.stats().checkpointsWritten, 1);
    assert.equal(log.stats().walRecordsSinceCheckpoint, 0);
    // The usual cadence again, still without the clock.
    await batches("y", bound + 1);
    assert.equal(log.stats().checkpointsWritten, 2);
    await log.close();
    const reopened = await openLog(store, "q", testOptions());
    assert.deepEqual(new ListState(reopened).items, state.items);
  });

  it("an explicit checkpoint() during the backoff commits, and ends the run", async () => {
    const clock = new ManualClock();
    const bound = 5;
    const { faults, log, state, store } = await openRefusingCheckpoints(bound, 0, clock);
    let snapshots = 0;
    log.setSnapshotSource(() => {
      snapshots++;
      return rec(JSON.stringify(state.items));
    });
    const batches = batchesOf(log, state);
    await batches("a", bound + 3); // one attempt, refused; two records within the threshold
    assert.equal(snapshots, 1);
    faults.clearRules();
    await log.checkpoint(); // no clock advance: the backoff is still running
    assert.equal(snapshots, 2);
    assert.equal(log.stats().checkpointsWritten, 1);
    assert.equal(log.stats().walRecordsSinceCheckpoint, 0);
    // The run ended: the next background one is due at the bound alone.
    await batches("b", bound);
    assert.equal(log.stats().checkpointsWritten, 1);
    await batches("c", 1);
    assert.equal(log.stats().checkpointsWritten, 2);
    await log.close();
    const reopened = await openLog(store, "q", testOptions());
    assert.deepEqual(new ListState(reopened).items, state.items);
  });

  it("checkpoints taken amid appends cover exactly the records before them", async () => {
    const store = new MemoryStore();
    const recovered = await openLog(store, "q", testOptions());
    const state = new ListState(recovered);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      pending.push(state.append(recovered.log, `r${i}`));
      if (i % 37 === 0) pending.push(recovered.log.checkpoint());
      if (i % 50 === 0) await pending.at(-1);
    }
    await Promise.all(pending);
    const reopened = await openLog(store, "q", testOptions());
    // Checkpoint + replayed records reproduce every record once, in order.
    assert.ok(reopened.checkpoint !== null);
    assert.deepEqual(new ListState(reopened).items, state.items);
  });

  it("an incremental snapshot is encoded in slices from the view taken at the cut", async () => {
    const store = new MemoryStore();
    const recovered = await openLog(store, "q", testOptions());
    const items: string[] = [];
    const append = (text: string) => {
      items.push(text);
      return recovered.log.append(rec(text));
    };
    let steps = 0;
    let turnsBetweenSteps = 0;
    let turnSeen = false;
    const during: Promise<void>[] = [];
    recovered.log.setSnapshotSource((reserve) => {
      // The view: the items as of the cut, encoded one per step.
      const view = [...items];
      const parts: string[] = [];
      return {
        step() {
          steps++;
          if (turnSeen) turnsBetweenSteps++;
          turnSeen = false;
          setImmediate(() => {
            turnSeen = true;
          });
          // Appended while the snapshot is being encoded: not in it, replayed after it.
          if (steps === 2) during.push(append("during-1"), append("during-2"));
          if (parts.length < view.length) {
            parts.push(view[parts.length]!);
            return null;
          }
          const json = rec(JSON.stringify(parts));
          const out = new Uint8Array(reserve + json.length);
          out.set(json, reserve);
          return out;
        },
        abandon() {},
      };
    });
    for (let i = 0; i < 5; i++) await append(`a${i}`);
    await recovered.log.checkpoint();
    await Promise.all(during);
    assert.equal(steps, 6);
    assert.equal(turnsBetweenSteps, 5, "the event loop turned between every two slices");
    const reopened = await openLog(store, "q", testOptions());
    assert.deepEqual(JSON.parse(new TextDecoder().decode(reopened.checkpoint!)), [
      "a0",
      "a1",
      "a2",
      "a3",
      "a4",
    ]);
    assert.deepEqual(texts(reopened.records), ["during-1", "during-2"]);
  });

  it("an encoder that fails is abandoned, and the checkpoint fails alone", async () => {
    const store = new MemoryStore();
    const recovered = await openLog(store, "q", testOptions());
    await recovered.log.append(rec("a"));
    let abandoned = 0;
    let calls = 0;
    recovered.log.setSnapshotSource(() => ({
      step() {
        if (++calls === 3) throw new Error("encoder broke");
        return null;
      },
      abandon() {
        abandoned++;
      },
    }));
    await assert.rejects(recovered.log.checkpoint(), /encoder broke/);
    assert.equal(abandoned, 1);
    await recovered.log.append(rec("b"));
    recovered.log.setSnapshotSource(() => rec("ok"));
    await recovered.log.checkpoint();
    assert.equal(recovered.log.stats().checkpointsWritten, 1);
  });

  it("an encoder is abandoned when the log fails during the encoding", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    await first.log.append(rec("a"));
    let abandoned = 0;
    let fenced = false;
    first.log.setSnapshotSource(() => ({
      step() {
        if (!fenced) {
          fenced = true;
          // A newer writer takes over; the next append fails the log.
          void openLog(store, "q", testOptions()).then(() =>
            first.log.append(rec("zombie")).catch(() => {}),
          );
        }
        return null;
      },
      abandon() {
        abandoned++;
      },
    }));
    assert.equal(await rejectionCode(first.log.checkpoint()), "FENCED");
    assert.equal(abandoned, 1);
  });

  /** A log that checkpoints every 2 batches, GC throttled to every second, WAL listings counted. */
  async function throttledGcLog() {
    const clock = new ManualClock();
    const store = new WalListingStore();
    const options = testOptions({
      clock,
      flushIntervalMs: 0,
      gcMinAgeMs: 4_000,
      checkpointWalBatches: 2,
    });
    const recovered = await openLog(store, "q", options);
    return { clock, store, recovered, state: new ListState(recovered) };
  }

  it("after background checkpoints, GC runs at most every quarter of gcMinAgeMs; explicit ones always collect", async () => {
    const { clock, store, recovered, state } = await throttledGcLog();
    const checkpointAfterBatches = async (n: number): Promise<void> => {
      const before = recovered.log.stats().checkpointsWritten;
      for (let i = 0; i < 3; i++) await state.append(recovered.log, `${n}-${i}`);
      await waitFor(() => recovered.log.stats().checkpointsWritten === before + 1);
      await settle();
    };
    store.walLists = 0;
    await checkpointAfterBatches(1);
    assert.equal(store.walLists, 1, "the first background checkpoint collects");
    clock.advance(999);
    await checkpointAfterBatches(2);
    assert.equal(store.walLists, 1, "not again within a quarter of gcMinAgeMs");
    clock.advance(1);
    await checkpointAfterBatches(3);
    assert.equal(store.walLists, 2, "a quarter of gcMinAgeMs later, it does");
    await state.append(recovered.log, "explicit");
    await recovered.log.checkpoint();
    assert.equal(store.walLists, 3, "an explicit checkpoint collects at once");
    await recovered.log.close();
  });

  it("close collects garbage even within a quarter of gcMinAgeMs of the last pass", async () => {
    const { clock, store, recovered, state } = await throttledGcLog();
    store.walLists = 0;
    for (let i = 0; i < 3; i++) await state.append(recovered.log, `a${i}`);
    await waitFor(() => recovered.log.stats().checkpointsWritten === 1);
    await settle();
    assert.equal(store.walLists, 1, "the first background checkpoint collects");
    const firstCovered = (await walObjects(store)).filter(({ size }) => !isFenceSize(size));
    clock.advance(3_500);
    for (let i = 0; i < 3; i++) await state.append(recovered.log, `b${i}`);
    await waitFor(() => recovered.log.stats().checkpointsWritten === 2);
    await settle();
    const ids = async (): Promise<Set<number>> =>
      new Set((await walObjects(store)).map(({ id }) => id));
    const kept = await ids();
    assert.ok(firstCovered.length > 0 && firstCovered.every(({ id }) => kept.has(id)), "too young");
    clock.advance(600); // old enough now, but the throttle holds background passes back
    const passes = store.walLists;
    await state.append(recovered.log, "c");
    await recovered.log.close();
    assert.equal(store.walLists, passes + 1, "close collects though the throttle would not");
    const left = await ids();
    assert.ok(
      firstCovered.every(({ id }) => !left.has(id)),
      "the first checkpoint's batches are gone",
    );
  });

  it("GC leaves objects younger than gcMinAgeMs alone", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({
      clock,
      flushIntervalMs: 0,
      gcMinAgeMs: 60_000,
      manifestHistory: 0,
    });
    const recovered = await openLog(store, "q", options);
    const state = new ListState(recovered);
    await state.append(recovered.log, "a");
    await recovered.log.checkpoint();
    clock.advance(1_000);
    await state.append(recovered.log, "b");
    await recovered.log.checkpoint();
    const before = await keysUnder(store, "q/");
    await recovered.log.collectGarbage();
    assert.deepEqual(await keysUnder(store, "q/"), before);

    clock.advance(60_000);
    await recovered.log.collectGarbage();
    const after = await keysUnder(store, "q/");
    assert.equal((await keysUnder(store, "q/manifest/")).length, 1);
    assert.equal((await keysUnder(store, "q/checkpoint/")).length, 1);
    assert.deepEqual(await walObjects(store), []);
    assert.ok(after.length < before.length);
    const reopened = await openLog(store, "q", testOptions());
    assert.deepEqual(new ListState(reopened).items, ["a", "b"]);
  });

  it("a checkpoint or GC that the store refuses fails alone; the log goes on", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const options = testOptions({ retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 20 } });
    const recovered = await openLog(faults, "q", options);
    const state = new ListState(recovered);
    await state.append(recovered.log, "a");
    const removeRule = faults.addRule({ op: "put", keyPrefix: "q/checkpoint/", mode: "before" });
    assert.equal(await rejectionCode(recovered.log.checkpoint()), "STORAGE");
    removeRule();
    faults.addRule({ op: "delete", mode: "before" });
    await state.append(recovered.log, "b");
    await recovered.log.checkpoint(); // committed; its cleanup failure is only logged
    assert.equal(await rejectionCode(recovered.log.collectGarbage()), "STORAGE");
    await state.append(recovered.log, "c");
    assert.equal(recovered.log.stats().checkpointsWritten, 1);
    const reopened = await openLog(inner, "q", testOptions());
    assert.deepEqual(new ListState(reopened).items, ["a", "b", "c"]);
  });

  it("GC by a fenced writer deletes nothing and reports FENCED", async () => {
    const store = new MemoryStore();
    const first = await openLog(store, "q", testOptions());
    const state = new ListState(first);
    await state.append(first.log, "a");
    await first.log.checkpoint();
    await openLog(store, "q", testOptions());
    const before = await keysUnder(store, "q/");
    assert.equal(await rejectionCode(first.log.collectGarbage()), "FENCED");
    assert.deepEqual(await keysUnder(store, "q/"), before);
  });
});

/**
 * Minutes of a manual clock at a steady rate: 15,000 and 84,000 appends, about 2.5 s of CPU
 * between them, but over 40 s of wall time on a busy 2-core machine (other test files at
 * once). They have a budget of their own: inside the minute of the suite above they left
 * too little for its quick tests when the machine was busy.
 */
describe("log GC under sustained load", { timeout: 240_000 }, () => {
  /**
   * Appends one-record batches at `rate` per second of a manual clock for `seconds`
   * with a `stateBytes` snapshot, and returns the most WAL objects and manifests seen
   * at any whole minute, with the batch bound a checkpoint is due after.
   */
  async function sustainedLoad(
    rate: number,
    seconds: number,
    stateBytes: number,
  ): Promise<{ wal: number; manifests: number }> {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const recovered = await openLog(
      store,
      "q",
      testOptions({ clock, flushIntervalMs: 0, gcMinAgeMs: 60_000 }),
    );
    const snapshot = new Uint8Array(stateBytes);
    recovered.log.setSnapshotSource(() => snapshot);
    const total = rate * seconds;
    let most = { wal: 0, manifests: 0 };
    for (let i = 0; i < total; i++) {
      await recovered.log.append(rec(`r${i}`));
      clock.advance(Math.floor(((i + 1) * 1000) / rate) - Math.floor((i * 1000) / rate));
      if (i % 64 === 0) await settle();
      if ((i + 1) % (rate * 60) === 0) {
        await settle();
        most = {
          wal: Math.max(most.wal, (await listAll(store, "q/wal/")).length),
          manifests: Math.max(most.manifests, (await listAll(store, "q/manifest/")).length),
        };
      }
    }
    await recovered.log.close();
    return most;
  }

  it("under checkpoints more frequent than manifestHistory + 1 per gcMinAgeMs, GC still deletes WAL and manifests", async () => {
    // 50 batches/s with a small state: a checkpoint every 256 batches (~5 s), 11 manifests
    // in ~56 s. When only retained manifests aged a batch, none was ever deleted (15,000 kept).
    const rate = 50;
    const most = await sustainedLoad(rate, 300, 1024);
    const walBound = 1.25 * 60 * rate + MIN_CHECKPOINT_WAL_BATCHES;
    assert.ok(most.wal <= walBound, `WAL objects ${most.wal} <= ${walBound}`);
    assert.ok(most.manifests <= 20, `manifests ${most.manifests} <= 20`);
  });

  it("at 700 batches/s, GC keeps about gcMinAgeMs of WAL and of manifests", async () => {
    // The rate at which the pile-up began with only the 4096-batch bound (a checkpoint every
    // ~5.9 s); with a small state checkpoints come every 256 batches, at most once a second
    // on this fast store (every ~1 s here).
    const rate = 700;
    const most = await sustainedLoad(rate, 120, 1024);
    const walBound = 1.25 * 60 * rate + MIN_CHECKPOINT_WAL_BATCHES;
    assert.ok(most.wal <= walBound, `WAL objects ${most.wal} <= ${walBound}`);
    const manifestBound = Math.ceil((1.25 * 60 * rate) / MIN_CHECKPOINT_WAL_BATCHES) + 12;
    assert.ok(most.manifests <= manifestBound, `manifests ${most.manifests} <= ${manifestBound}`);
  });
});

async function rejectionCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return "resolved";
}
