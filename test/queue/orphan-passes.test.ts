/**
 * Orphaned payload objects left while a writer runs (a delete given up on, a
 * write that failed) are collected by a pass in the background, without a
 * reopen; no pass runs (no listing) without such a reason, a payload whose
 * enqueue is still in flight is never deleted, and a close during a pass
 * ends it without a line.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { StorageError } from "../../src/errors.js";
import { ORPHAN_MIN_AGE_MS, ORPHAN_PASS_SPACING_MS } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import {
  BIG,
  enqueueWhosePutFailsAfterItStores,
  ListCountingStore,
  orphanTestOptions,
  putOldOrphans,
} from "./orphan-setup.js";

const collectedLater = (message: string) => message.includes("collected later");
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Claims and acks `count` jobs of "work", returning their payloads sorted. */
async function claimPayloads(queue: Queue, count: number): Promise<string[]> {
  const payloads: string[] = [];
  for (let i = 0; i < count; i++) {
    const claim = (await queue.claim("work"))!;
    payloads.push(Buffer.from(claim.payload).toString());
    await queue.ack(claim);
  }
  return payloads.sort();
}

async function runningQueue(
  oldOrphans = 0,
  beforeOpen?: (faults: FaultStore) => void,
  log: { maxUnflushedBytes?: number } = {},
) {
  const inner = new ListCountingStore();
  const faults = new FaultStore(inner);
  const clock = new ManualClock(1_700_000_000_000);
  const logger = recordingLogger();
  const options = orphanTestOptions(clock, logger, log);
  // A store that holds a queue already (the first open also checks that the folder is empty).
  await (await Queue.open(inner, "q", options)).close();
  await putOldOrphans(inner, clock, oldOrphans);
  inner.payloadLists = 0;
  logger.lines.length = 0;
  beforeOpen?.(faults);
  const queue = await Queue.open(faults, "q", options);
  // Not counted: only the queue's own listings are.
  const objects = async () =>
    (await MemoryStore.prototype.list.call(inner, "q/payload/")).objects.map((o) => o.key);
  // The open's own pass: one listing of an empty folder.
  await until(() => inner.payloadLists === 1, "the open's pass listed");
  for (let i = 0; i < 5; i++) await turn();
  /** Moves the clock by `ms` in steps, with turns of the event loop between them. */
  const pass = async (ms: number, step = 5_000) => {
    for (let moved = 0; moved < ms; moved += step) {
      clock.advance(step);
      for (let i = 0; i < 3; i++) await turn();
    }
  };
  /** Advances the clock (retries wait on it) until `condition` holds. */
  const runUntil = async (condition: () => boolean | Promise<boolean>, what: string) =>
    until(
      async () => {
        clock.advance(100);
        return condition();
      },
      what,
      5_000,
    );
  /** Cancels job `id` while its object's delete fails past its retry budget: left as an orphan, with a warning. */
  const cancelLeavingOrphan = async (id: string) => {
    const unfail = faults.addRule({
      op: "delete",
      keyPrefix: "q/payload/",
      mode: "before",
      error: () => new StorageError("503 SlowDown"),
    });
    assert.equal(await queue.cancel(id), "removed");
    await runUntil(
      () => logger.at("warn").some((line) => collectedLater(line.message)),
      "the delete given up on",
    );
    unfail();
  };
  /** A new job's object left as an orphan by {@link cancelLeavingOrphan}; returns its key. */
  const orphanOfCancel = async () => {
    const id = await queue.enqueue("work", BIG);
    const [key] = await objects();
    await cancelLeavingOrphan(id);
    return key!;
  };
  return {
    inner,
    faults,
    clock,
    logger,
    queue,
    objects,
    pass,
    runUntil,
    orphanOfCancel,
    cancelLeavingOrphan,
  };
}

describe("collecting orphaned payload objects while the writer runs", { timeout: 60_000 }, () => {
  it("a delete given up on: a later pass in the background deletes the object once it is old enough, without a reopen", async () => {
    const { inner, logger, queue, objects, pass, orphanOfCancel } = await runningQueue();
    const orphan = await orphanOfCancel();
    assert.deepEqual(await objects(), [orphan]);
    const lists = inner.payloadLists;
    const warnings = logger.messages("warn", "error").length;
    await pass(ORPHAN_MIN_AGE_MS + ORPHAN_PASS_SPACING_MS);
    await until(async () => (await objects()).length === 0, "the orphan collected", 5_000);
    assert.equal(inner.payloadLists - lists, 1, "one listing");
    // Nothing left to collect: no further pass.
    await pass(4 * ORPHAN_PASS_SPACING_MS, 30_000);
    assert.equal(inner.payloadLists - lists, 1, "no pass without a reason");
    assert.equal(logger.messages("warn", "error").length, warnings);
    await queue.enqueue("work", "on");
    await queue.close();
  });

  it("a failed listing: a later pass still collects the orphan, without a reopen", async () => {
    const { inner, faults, logger, queue, objects, pass, orphanOfCancel } = await runningQueue();
    const orphan = await orphanOfCancel();
    const unfail = faults.addRule({
      op: "list",
      keyPrefix: "q/payload/",
      mode: "before",
      times: 1,
      error: () => new StorageError("503 SlowDown"),
    });
    const lists = inner.payloadLists;
    await pass(ORPHAN_MIN_AGE_MS + ORPHAN_PASS_SPACING_MS);
    await until(
      () => logger.messages("warn", "error").some((m) => m.includes("collecting orphaned")),
      "the failed listing logged",
      5_000,
    );
    unfail();
    // A failed pass doubles the spacing.
    await pass(3 * ORPHAN_PASS_SPACING_MS);
    await until(async () => !(await objects()).includes(orphan), "the orphan collected", 5_000);
    // The failed listing never reached the store: only the later pass's is counted.
    assert.equal(inner.payloadLists - lists, 1, "one more listing");
    await queue.close();
  });

  it("no pass while nothing was left behind: objects written and deleted as usual cost no listing", async () => {
    const { inner, queue, objects, pass } = await runningQueue();
    for (let i = 0; i < 3; i++) await queue.enqueue("work", BIG);
    for (let i = 0; i < 3; i++) await queue.ack((await queue.claim("work"))!);
    await until(async () => (await objects()).length === 0, "the objects deleted", 5_000);
    await pass(60 * 60_000, 60_000);
    assert.equal(inner.payloadLists, 1, "only the open's listing");
    await queue.close();
  });

  it("a pass while an enqueue's objects are written but not committed yet leaves them, however old their names say they are", async () => {
    const { inner, faults, clock, queue, objects, pass, orphanOfCancel } = await runningQueue();
    const orphan = await orphanOfCancel();
    const lists = inner.payloadLists;
    // The puts take effect, but their answers are held: the enqueue is in flight. Its objects'
    // names say they are old (the wall clock was set back while it began): only being in
    // flight keeps them.
    const puts = faults.pause({ op: "put", keyPrefix: "q/payload/", mode: "after" });
    clock.stepWall(-2 * ORPHAN_MIN_AGE_MS);
    const enqueued = queue.enqueueMany("work", [{ payload: `${BIG}1` }, { payload: `${BIG}2` }]);
    await puts.whenHeld(2);
    clock.stepWall(2 * ORPHAN_MIN_AGE_MS);
    const inFlight = (await objects()).filter((key) => key !== orphan);
    assert.equal(inFlight.length, 2);
    await pass(ORPHAN_MIN_AGE_MS + ORPHAN_PASS_SPACING_MS);
    await until(async () => !(await objects()).includes(orphan), "the orphan collected", 5_000);
    assert.equal(inner.payloadLists - lists, 1, "the pass listed them");
    assert.deepEqual(await objects(), inFlight);
    puts.release();
    await enqueued;
    assert.deepEqual(await claimPayloads(queue, 2), [`${BIG}1`, `${BIG}2`]);
    await queue.close();
  });

  it("a pass while a transaction's object is written and its commit waits for a writable log leaves the object, however old its name says it is", async () => {
    // Any append not yet durable makes the log not writable.
    const { inner, faults, clock, queue, objects, pass, orphanOfCancel } = await runningQueue(
      0,
      undefined,
      { maxUnflushedBytes: 1 },
    );
    const orphan = await orphanOfCancel();
    const lists = inner.payloadLists;
    // A log write held: the log is not writable, and a producing transaction waits for it
    // after writing its object, whose name says it is old.
    const wal = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const held = queue.enqueue("work", "s");
    await wal.whenHeld();
    clock.stepWall(-2 * ORPHAN_MIN_AGE_MS);
    const committed = queue.transaction((tx) => {
      tx.enqueue("work", `${BIG}tx`);
    });
    await until(async () => (await objects()).length === 2, "the transaction's object written");
    clock.stepWall(2 * ORPHAN_MIN_AGE_MS);
    const written = (await objects()).filter((key) => key !== orphan);
    await pass(ORPHAN_MIN_AGE_MS + ORPHAN_PASS_SPACING_MS);
    await until(async () => !(await objects()).includes(orphan), "the orphan collected", 5_000);
    assert.equal(inner.payloadLists - lists, 1, "the pass listed it");
    assert.deepEqual(await objects(), written);
    wal.release();
    await held;
    await committed;
    assert.deepEqual(await claimPayloads(queue, 2), ["s", `${BIG}tx`]);
    await queue.close();
  });

  it("a store that refuses every delete: the passes back off, up to an hour apart, while removed jobs keep leaving orphans", async () => {
    const { inner, faults, queue, objects, pass } = await runningQueue();
    faults.addRule({
      op: "delete",
      keyPrefix: "q/payload/",
      mode: "before",
      error: () => new StorageError("403 AccessDenied", { permanent: true }),
    });
    const lists = inner.payloadLists;
    // One job removed a minute for two hours: every removal's refused delete is a reason.
    for (let minute = 0; minute < 120; minute++) {
      assert.equal(await queue.cancel(await queue.enqueue("work", BIG)), "removed");
      await pass(60_000, 30_000);
    }
    assert.equal((await objects()).length, 120);
    // 10 min until the first is old enough, then 5, 10, 20, 40 and 60 min apart: 6 passes at
    // most (13 without backing off).
    const passes = inner.payloadLists - lists;
    assert.ok(passes >= 3 && passes <= 7, `${passes} listings in two hours`);
    await queue.close();
  });

  it("a wall clock set back does not hold the passes back: they are spaced on the monotonic clock", async () => {
    const { faults, clock, queue, objects, pass, orphanOfCancel } = await runningQueue();
    // A write that failed while the wall clock was a day ahead: its object's name says it is
    // old enough only a day later.
    clock.stepWall(24 * 60 * 60_000);
    await enqueueWhosePutFailsAfterItStores(faults, queue);
    clock.stepWall(-24 * 60 * 60_000);
    await pass(30 * 60_000, 60_000);
    // A delete given up on later: its object is collected within the hour, not a day later.
    const orphan = await orphanOfCancel();
    await pass(ORPHAN_MIN_AGE_MS + 2 * ORPHAN_PASS_SPACING_MS, 30_000);
    await until(async () => !(await objects()).includes(orphan), "the orphan collected", 5_000);
    // The object named a day ahead is left: the minimum age is still measured on wall time.
    assert.equal((await objects()).length, 1);
    await queue.close();
  });

  it("a pass set for a young object is brought forward by a later reason due sooner, spaced as usual", async () => {
    const { faults, queue, objects, pass, cancelLeavingOrphan } = await runningQueue();
    const id = await queue.enqueue("work", BIG);
    const [old] = await objects();
    await pass(2 * ORPHAN_MIN_AGE_MS, 60_000);
    // A write that failed: its object is old enough in ten minutes, when a pass is set for.
    await enqueueWhosePutFailsAfterItStores(faults, queue);
    // Then the delete of an object old enough already is given up on: due a spacing from now.
    await cancelLeavingOrphan(id);
    await pass(ORPHAN_PASS_SPACING_MS + 10_000);
    await until(async () => !(await objects()).includes(old!), "the old orphan collected", 5_000);
    // The young one waits for its age.
    assert.equal((await objects()).length, 1);
    await pass(ORPHAN_MIN_AGE_MS);
    await until(async () => (await objects()).length === 0, "the young orphan collected", 5_000);
    await queue.close();
  });

  it("a close while a pass lists: the pass ends, with no line and no delete after the close", async () => {
    const { faults, logger, queue, objects, pass, orphanOfCancel } = await runningQueue();
    const orphan = await orphanOfCancel();
    const listing = faults.pause({ op: "list", keyPrefix: "q/payload/" });
    await pass(ORPHAN_MIN_AGE_MS + ORPHAN_PASS_SPACING_MS);
    await listing.whenHeld();
    await queue.close();
    const linesAtClose = logger.lines.length;
    listing.release();
    for (let i = 0; i < 20; i++) await turn();
    await pass(ORPHAN_PASS_SPACING_MS);
    assert.deepEqual(logger.lines.slice(linesAtClose), [], "lines after close");
    assert.deepEqual(await objects(), [orphan], "no delete after close");
  });

  it("a write that failed after it stored its object: a later pass deletes the object", async () => {
    const { faults, queue, objects, pass } = await runningQueue();
    await enqueueWhosePutFailsAfterItStores(faults, queue);
    assert.equal((await objects()).length, 1);
    await pass(ORPHAN_MIN_AGE_MS + ORPHAN_PASS_SPACING_MS);
    await until(async () => (await objects()).length === 0, "the object collected", 5_000);
    await queue.close();
  });

  it("the open's pass cut short by deletes failing past their retry budget: a later pass collects the rest, without a reopen", async () => {
    let unfail = () => {};
    const { inner, logger, queue, objects, pass, runUntil } = await runningQueue(5, (faults) => {
      unfail = faults.addRule({
        op: "delete",
        keyPrefix: "q/payload/",
        mode: "before",
        error: () => new StorageError("503 SlowDown"),
      });
    });
    await runUntil(
      () => logger.at("warn").some((line) => collectedLater(line.message)),
      "the delete given up on",
    );
    unfail();
    assert.equal((await objects()).length, 5);
    const lists = inner.payloadLists;
    // A pass that deleted nothing doubles the spacing.
    await pass(2 * ORPHAN_PASS_SPACING_MS + 10_000);
    await until(async () => (await objects()).length === 0, "the orphans collected", 5_000);
    assert.equal(inner.payloadLists - lists, 1, "one more listing");
    await queue.close();
  });
});
