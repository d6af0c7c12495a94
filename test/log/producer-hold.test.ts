import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { LAG_BOUNDS, MAX_HOLD_MS, MIN_HOLD_MS, ProducerHold } from "../../src/log/producer-hold.js";
import { recordingLogger } from "../recording-logger.js";

const BOUND = 5;

/** A hold over a log the test moves by hand: records past the checkpoint, closing. */
function setup() {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const log = { past: 0, closing: false };
  const hold = new ProducerHold({
    clock,
    logger,
    describeLog: "log q",
    log: {
      recordsPastCheckpoint: () => log.past,
      recordBound: () => BOUND,
      closing: () => log.closing,
    },
  });
  /** A checkpoint starts with the WAL past the point where producers are held. */
  const startOverBound = () => {
    hold.checkpointStarted();
    log.past = LAG_BOUNDS * BOUND + 1;
  };
  /** A checkpoint that takes `ms` of the clock and commits, holding no one. */
  const commitTaking = (ms: number) => {
    log.past = 0;
    hold.checkpointStarted();
    clock.advance(ms);
    hold.checkpointCommitted();
  };
  const warnings = () => logger.messages("warn");
  const late = () => warnings().filter((w) => w.includes("checkpoint is late")).length;
  const failed = () => warnings().filter((w) => w.includes("checkpoint failed")).length;
  return { clock, logger, log, hold, startOverBound, commitTaking, late, failed };
}

/** Whether `promise` settled after pending reactions ran, and how. */
async function state(promise: Promise<unknown>): Promise<"pending" | "resolved" | "rejected"> {
  let outcome: "pending" | "resolved" | "rejected" = "pending";
  promise.then(
    () => {
      outcome = "resolved";
    },
    () => {
      outcome = "rejected";
    },
  );
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  return outcome;
}

describe("producer hold", () => {
  it("holds only while a checkpoint is written and the WAL is past twice the record bound", async () => {
    const { log, hold } = setup();
    log.past = 100;
    assert.equal(hold.allows(), true, "no checkpoint being written: never held");
    hold.checkpointStarted();
    log.past = LAG_BOUNDS * BOUND;
    assert.equal(hold.allows(), true, "at twice the bound: not held");
    log.past++;
    assert.equal(hold.allows(), false, "past twice the bound: held");
    const waiting = hold.whenAllows();
    assert.equal(await state(waiting), "pending");
    log.closing = true;
    assert.equal(hold.allows(), true, "a closing log holds no one");
    log.closing = false;
    hold.checkpointCommitted();
    assert.equal(await state(waiting), "resolved", "the commit lets held producers go");
    assert.equal(hold.allows(), true);
  });

  it("holds for at most the floor before any checkpoint committed, then gives way with one warning", async () => {
    const { clock, hold, startOverBound, late } = setup();
    assert.equal(hold.limitMs(), MIN_HOLD_MS);
    startOverBound();
    const waiting = hold.whenAllows();
    clock.advance(MIN_HOLD_MS - 1);
    assert.equal(await state(waiting), "pending", "still held just before the limit");
    assert.equal(late(), 0);
    clock.advance(1);
    assert.equal(await state(waiting), "resolved");
    assert.equal(hold.allows(), true, "the late checkpoint holds no one for the rest of its write");
    assert.equal(late(), 1);
  });

  it("the limit is twice the last committed checkpoint's duration, clamped to 1–10 s", () => {
    const { hold, commitTaking } = setup();
    commitTaking(1_500);
    assert.equal(hold.limitMs(), 3_000);
    commitTaking(100);
    assert.equal(hold.limitMs(), MIN_HOLD_MS);
    commitTaking(7_000);
    assert.equal(hold.limitMs(), MAX_HOLD_MS);
  });

  it("times a hold from when a producer is first held, on the injected clock", async () => {
    const { clock, hold, startOverBound, commitTaking } = setup();
    commitTaking(1_500);
    startOverBound();
    clock.advance(10_000); // nobody asked yet: no hold running
    const waiting = hold.whenAllows();
    clock.advance(2_999);
    assert.equal(await state(waiting), "pending");
    clock.advance(1);
    assert.equal(await state(waiting), "resolved");
  });

  it("holds no one once a committed checkpoint took the longest a hold may last", () => {
    const { hold, startOverBound, commitTaking } = setup();
    commitTaking(MAX_HOLD_MS - 1);
    startOverBound();
    assert.equal(hold.allows(), false, "just under 10 s: held");
    hold.checkpointCommitted(); // at once: the last one took no time
    commitTaking(MAX_HOLD_MS);
    startOverBound();
    assert.equal(hold.allows(), true, "a 10 s checkpoint: not held for the next");
    commitTaking(1_000);
    startOverBound();
    assert.equal(hold.allows(), false, "a faster one: held again");
  });

  it("after a failed checkpoint it gives way until one commits, warning once per run of failures", async () => {
    const { hold, startOverBound, commitTaking, failed } = setup();
    startOverBound();
    const waiting = hold.whenAllows();
    hold.checkpointFailed();
    assert.equal(await state(waiting), "resolved", "a failure lets held producers go");
    assert.equal(failed(), 1);
    for (let i = 0; i < 3; i++) {
      startOverBound();
      assert.equal(hold.allows(), true, "a retried checkpoint holds no one");
      hold.checkpointFailed();
    }
    assert.equal(failed(), 1, "one line for the run");
    commitTaking(10);
    startOverBound();
    assert.equal(hold.allows(), false, "held again once one committed");
    hold.checkpointFailed();
    assert.equal(failed(), 2, "a new run of failures: a new line");
  });

  it("logs one late warning per run of late checkpoints", async () => {
    const { clock, hold, startOverBound, commitTaking, late } = setup();
    const lateCheckpoint = async () => {
      startOverBound();
      const waiting = hold.whenAllows();
      clock.advance(hold.limitMs());
      assert.equal(await state(waiting), "resolved");
      hold.checkpointCommitted();
    };
    await lateCheckpoint();
    await lateCheckpoint();
    assert.equal(late(), 1, "two late checkpoints in a row: one line");
    commitTaking(0); // held no one past its limit: the run ends
    await lateCheckpoint();
    assert.equal(late(), 2);
  });

  it("a checkpoint ending before the limit cancels the hold's timer", () => {
    const { clock, hold, startOverBound, late, logger } = setup();
    startOverBound();
    assert.equal(hold.allows(), false);
    hold.checkpointCommitted();
    clock.advance(MAX_HOLD_MS);
    assert.equal(late(), 0);
    startOverBound();
    assert.equal(hold.allows(), false, "the next checkpoint holds afresh");
    assert.deepEqual(logger.messages("warn"), []);
  });

  it("a checkpoint abandoned by a fenced or failed log releases producers without suspending holds", async () => {
    const { hold, startOverBound, logger } = setup();
    startOverBound();
    const waiting = hold.whenAllows();
    hold.checkpointAbandoned();
    assert.equal(await state(waiting), "resolved");
    startOverBound();
    assert.equal(hold.allows(), false, "not suspended");
    assert.deepEqual(logger.messages("warn"), []);
  });

  it("held producers reject when the log fails", async () => {
    const { hold, startOverBound } = setup();
    startOverBound();
    const waiting = hold.whenAllows();
    hold.fail(new Error("fenced"));
    await assert.rejects(waiting, /fenced/);
  });

  it("a failed log ends the hold: its timer never reports a late checkpoint, and nothing waits", async () => {
    const { clock, hold, startOverBound, logger } = setup();
    startOverBound();
    const waiting = hold.whenAllows(); // starts the hold's timer
    hold.fail(new Error("fenced"));
    await assert.rejects(waiting, /fenced/);
    clock.advance(MAX_HOLD_MS);
    assert.deepEqual(
      logger.messages("warn"),
      [],
      "a checkpoint of a failed log is abandoned, not late",
    );
    assert.equal(hold.allows(), true, "no new hold (nor timer) on a failed log");
    await assert.rejects(hold.whenAllows(), /fenced/, "later waiters reject too");
    clock.advance(MAX_HOLD_MS);
    assert.deepEqual(logger.messages("warn"), []);
    hold.checkpointAbandoned(); // the hung checkpoint ends at last
    assert.deepEqual(logger.messages("warn"), []);
  });

  it("measures checkpoints and holds in monotonic time: wall clock steps change nothing", async () => {
    const { clock, hold, startOverBound } = setup();
    // A checkpoint during which the wall clock jumps ahead took no time.
    hold.checkpointStarted();
    clock.stepWall(60_000);
    hold.checkpointCommitted();
    assert.equal(hold.limitMs(), MIN_HOLD_MS, "not a minute-long checkpoint");
    // One of 1.5 s during which the wall clock steps back took 1.5 s.
    hold.checkpointStarted();
    clock.advance(1_500);
    clock.stepWall(-60_000);
    hold.checkpointCommitted();
    assert.equal(hold.limitMs(), 3_000, "twice 1.5 s, not a negative duration");
    // A hold ends after its limit of elapsed time, whatever the wall clock does.
    startOverBound();
    const waiting = hold.whenAllows();
    clock.stepWall(MAX_HOLD_MS);
    assert.equal(await state(waiting), "pending", "a wall step forward does not end it");
    clock.stepWall(-10 * MAX_HOLD_MS);
    clock.advance(3_000);
    assert.equal(await state(waiting), "resolved", "a wall step back does not extend it");
  });
});
