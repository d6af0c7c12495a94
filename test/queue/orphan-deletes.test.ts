/**
 * A store that fails the deletes of the orphan collector (objects left by a
 * crash, collected at open): the open and the queue go on, the objects are
 * collected at a later collection, and the failures log one warning per
 * problem, as the deletes of removed jobs' objects do; later ones on debug.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { StorageError } from "../../src/errors.js";
import { ORPHAN_REFUSALS_IN_A_ROW } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import {
  ORPHAN_TEST_RETRY,
  orphanTestOptions,
  putOldOrphans,
  refuseDeletesForGood,
  refusedForGood,
} from "./orphan-setup.js";

const ORPHANS = 5;

/** A queue's store holding `count` old orphans, reopened through a store that fails by rule. */
async function orphansBehindFaults(count = ORPHANS) {
  const inner = new MemoryStore();
  const clock = new ManualClock(1_700_000_000_000);
  const logger = recordingLogger();
  const options = orphanTestOptions(clock, logger);
  await (await Queue.open(inner, "q", options)).close();
  const keys = await putOldOrphans(inner, clock, count);
  logger.lines.length = 0;
  const faults = new FaultStore(inner);
  const orphansLeft = async () => (await inner.list("q/payload/")).objects.length;
  /** Advances the clock (retries wait on it) until `condition` holds. */
  const runUntil = async (condition: () => boolean | Promise<boolean>, what: string) => {
    const held = await until(
      async () => {
        clock.advance(100);
        return condition();
      },
      what,
      5_000,
    ).then(
      () => true,
      () => false,
    );
    if (!held)
      assert.fail(
        `${what} never held: ${faults.injectedCount} requests failed, ${await orphansLeft()} orphans left, warnings ${JSON.stringify(logger.messages("warn", "error"))}`,
      );
  };
  return { inner, clock, logger, options, faults, keys, orphansLeft, runUntil };
}

const collectedLater = (message: string) => message.includes("collected later");

describe("collecting orphaned payload objects on a store that fails their deletes", {
  timeout: 60_000,
}, () => {
  it("a delete refused for good: that object is skipped, the others are collected, one warning; the next collection deletes it", async () => {
    const { logger, options, faults, keys, orphansLeft, runUntil } = await orphansBehindFaults();
    const refused = keys[1]!;
    refuseDeletesForGood(faults, [refused]);
    const queue = await Queue.open(faults, "q", options);
    await runUntil(async () => (await orphansLeft()) === 1, "every other orphan collected");
    await queue.enqueue("work", "on");
    assert.equal(faults.injectedCount, 1);
    assert.deepEqual(
      (await faults.list("q/payload/")).objects.map((object) => object.key),
      [refused],
    );
    assert.deepEqual(
      logger.at("warn", "error").map((line) => [line.level, collectedLater(line.message)]),
      [["warn", true]],
      JSON.stringify(logger.messages("warn", "error")),
    );
    await queue.close();
    // The store lets deletes through again: the next collection takes it.
    faults.clearRules();
    const again = await Queue.open(faults, "q", options);
    await runUntil(async () => (await orphansLeft()) === 0, "the orphan collected");
    await again.close();
  });

  it(`every delete refused for good: the pass ends after ${ORPHAN_REFUSALS_IN_A_ROW} refusals in a row, not one request per orphan at each open`, async () => {
    const count = 20;
    const { clock, logger, options, faults, orphansLeft, runUntil } =
      await orphansBehindFaults(count);
    faults.addRule({
      op: "delete",
      keyPrefix: "q/payload/",
      mode: "before",
      error: refusedForGood,
    });
    for (let open = 1; open <= 2; open++) {
      const before = faults.injectedCount;
      const queue = await Queue.open(faults, "q", options);
      await runUntil(
        () => faults.injectedCount - before >= ORPHAN_REFUSALS_IN_A_ROW,
        "the refusals in a row",
      );
      // The pass would go on to the next orphan at once: give it the chance.
      for (let i = 0; i < 20; i++) {
        clock.advance(100);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await queue.enqueue("work", "on");
      assert.equal(faults.injectedCount - before, ORPHAN_REFUSALS_IN_A_ROW, `open ${open}`);
      await queue.close();
    }
    assert.equal(await orphansLeft(), count);
    // Each open: one warning, the other refusals on debug.
    assert.deepEqual(logger.messages("warn", "error").map(collectedLater), [true, true]);
    assert.equal(
      logger.at("debug").filter((line) => collectedLater(line.message)).length,
      2 * (ORPHAN_REFUSALS_IN_A_ROW - 1),
    );
  });

  it("refusals with successes between them: the pass goes on, every other orphan is collected", async () => {
    const count = 4 * ORPHAN_REFUSALS_IN_A_ROW;
    const { options, faults, keys, orphansLeft, runUntil } = await orphansBehindFaults(count);
    const refused = keys.filter((_, i) => i % 2 === 0);
    refuseDeletesForGood(faults, refused);
    const queue = await Queue.open(faults, "q", options);
    await runUntil(
      async () => (await orphansLeft()) === refused.length,
      "every orphan not refused collected",
    );
    assert.equal(faults.injectedCount, refused.length);
    await queue.close();
  });

  it("deletes failing a few times: retried with backoff, every orphan collected in the same pass, one warning", async () => {
    const { logger, options, faults, orphansLeft, runUntil } = await orphansBehindFaults();
    faults.addRule({
      op: "delete",
      keyPrefix: "q/payload/",
      mode: "before",
      times: 3,
      error: () => new StorageError("503 SlowDown"),
    });
    const queue = await Queue.open(faults, "q", options);
    await runUntil(async () => (await orphansLeft()) === 0, "the orphans collected");
    assert.equal(faults.injectedCount, 3);
    assert.deepEqual(logger.messages("warn", "error"), [
      "store request failed; retrying with backoff",
    ]);
    await queue.close();
  });

  it("a delete in flight at close that then fails transiently: no retry line, no backoff left holding the process", async () => {
    const { clock, logger, options, faults, runUntil } = await orphansBehindFaults();
    const held = faults.pause({ op: "delete", keyPrefix: "q/payload/" });
    faults.addRule({
      op: "delete",
      keyPrefix: "q/payload/",
      mode: "before",
      error: () => new StorageError("503 SlowDown"),
    });
    const queue = await Queue.open(faults, "q", options);
    await held.whenHeld();
    await queue.close();
    const linesAtClose = logger.lines.length;
    const timers = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
    const timersAtClose = timers();
    try {
      held.release();
      await runUntil(() => faults.injectedCount === 1, "the held delete failed");
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(logger.lines.slice(linesAtClose), [], "lines after close");
      assert.equal(timers() - timersAtClose, 0, "timers still held by a delete waiting to retry");
      assert.equal(faults.injectedCount, 1, "no delete after close");
    } finally {
      // A delete still waiting to retry wakes and stops (so a failure here does not hold the run).
      clock.advance(ORPHAN_TEST_RETRY.maxDelayMs);
    }
  });

  it("deletes failing past the retry budget: one give-up warning, the pass stops, the open and queue go on, the next collection deletes them", async () => {
    const { clock, logger, options, faults, orphansLeft, runUntil } = await orphansBehindFaults();
    const unfail = faults.addRule({
      op: "delete",
      keyPrefix: "q/payload/",
      mode: "before",
      error: () => new StorageError("503 SlowDown"),
    });
    const queue = await Queue.open(faults, "q", options);
    await runUntil(
      () => logger.at("warn").some((line) => collectedLater(line.message)),
      "the delete given up on",
    );
    const tried = faults.injectedCount;
    // Well past another retry budget: the pass did not go on to the next orphan.
    for (let i = 0; i < 30; i++) {
      clock.advance(100);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.equal(faults.injectedCount, tried, "no delete after the one given up on");
    await queue.enqueue("work", "on");
    assert.equal(await orphansLeft(), ORPHANS);
    assert.deepEqual(logger.messages("warn", "error").map(collectedLater), [false, true]);
    await queue.close();
    unfail();
    const again = await Queue.open(faults, "q", options);
    await runUntil(async () => (await orphansLeft()) === 0, "the orphans collected");
    await again.close();
  });
});
