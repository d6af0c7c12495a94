/**
 * A store that fails the deletes of the orphan collector (objects left by a
 * crash, collected at open): the open and the queue go on, the objects are
 * collected at a later collection, and the failures log one warning per
 * problem, as the deletes of removed jobs' objects do; later ones on debug.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { ManualClock } from "../../src/clock.js";
import { StorageError } from "../../src/errors.js";
import { ORPHAN_MIN_AGE_MS } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

const ORPHANS = 5;
const RETRY = { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 1_000 };

/** A queue's store holding {@link ORPHANS} old orphans, reopened through a store that fails by rule. */
async function orphansBehindFaults() {
  const inner = new MemoryStore();
  const clock = new ManualClock(1_700_000_000_000);
  const logger = recordingLogger();
  const options = {
    clock,
    logger,
    payloadOffloadBytes: 10,
    flushIntervalMs: 0,
    heartbeatMs: null,
    log: { retry: RETRY },
  };
  await (await Queue.open(inner, "q", options)).close();
  for (let i = 0; i < ORPHANS; i++)
    await inner.put(
      `q/payload/${ulid(clock.now() - ORPHAN_MIN_AGE_MS - 60_000 + i)}`,
      new Uint8Array(20),
    );
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
  return { inner, clock, logger, options, faults, orphansLeft, runUntil };
}

const collectedLater = (message: string) => message.includes("collected later");

describe("collecting orphaned payload objects on a store that fails their deletes", {
  timeout: 60_000,
}, () => {
  it("a delete refused for good: every orphan is still tried, one warning, the rest on debug; the next collection deletes them", async () => {
    const { logger, options, faults, orphansLeft, runUntil } = await orphansBehindFaults();
    faults.addRule({
      op: "delete",
      keyPrefix: "q/payload/",
      mode: "before",
      error: () => new StorageError("403 AccessDenied", { permanent: true }),
    });
    const queue = await Queue.open(faults, "q", options);
    await runUntil(() => faults.injectedCount === ORPHANS, "every orphan's delete tried");
    await queue.enqueue("work", "on");
    assert.equal(await orphansLeft(), ORPHANS);
    assert.deepEqual(
      logger.at("warn", "error").map((line) => [line.level, collectedLater(line.message)]),
      [["warn", true]],
      JSON.stringify(logger.messages("warn", "error")),
    );
    assert.equal(logger.at("debug").filter((line) => collectedLater(line.message)).length, 4);
    await queue.close();
    // The store lets deletes through again: the next collection takes them.
    faults.clearRules();
    const again = await Queue.open(faults, "q", options);
    await runUntil(async () => (await orphansLeft()) === 0, "the orphans collected");
    await again.close();
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
