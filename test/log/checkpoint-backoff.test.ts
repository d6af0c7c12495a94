import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import {
  CheckpointBackoff,
  FIRST_CHECKPOINT_BACKOFF_MS,
  MAX_CHECKPOINT_BACKOFF_BOUNDS,
  MAX_CHECKPOINT_BACKOFF_MS,
} from "../../src/log/checkpoint-backoff.js";
import { recordingLogger } from "../recording-logger.js";

const BOUND = 100;

function setup() {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const backoff = new CheckpointBackoff({ clock, logger, describeLog: "log q" });
  return { clock, logger, backoff };
}

describe("checkpoint backoff", () => {
  it("waits a second after the first failure, doubling to a minute; a commit ends the run", () => {
    const { clock, backoff } = setup();
    assert.equal(backoff.allows(0), true, "no failure yet");
    for (let wait = FIRST_CHECKPOINT_BACKOFF_MS, n = 1; n <= 10; n++) {
      backoff.failed(new Error("refused"), 0, BOUND);
      clock.advance(wait - 1);
      assert.equal(backoff.allows(0), false, `failure ${n}: within ${wait} ms`);
      clock.advance(1);
      assert.equal(backoff.allows(0), true, `failure ${n}: after ${wait} ms`);
      wait = Math.min(MAX_CHECKPOINT_BACKOFF_MS, 2 * wait);
    }
    backoff.committed();
    backoff.failed(new Error("refused"), 0, BOUND);
    clock.advance(FIRST_CHECKPOINT_BACKOFF_MS);
    assert.equal(backoff.allows(0), true, "a new run starts at a second");
  });

  it("lets an attempt start early once the records since the failure pass the bound, doubling to 8 bounds", () => {
    const { backoff } = setup();
    let records = 1_000;
    for (let bounds = 1, n = 1; n <= 10; n++) {
      backoff.failed(new Error("refused"), records, BOUND);
      assert.equal(
        backoff.allows(records + bounds * BOUND),
        false,
        `failure ${n}: at ${bounds} bounds`,
      );
      assert.equal(
        backoff.allows(records + bounds * BOUND + 1),
        true,
        `failure ${n}: past ${bounds} bounds`,
      );
      records += bounds * BOUND + 1;
      bounds = Math.min(MAX_CHECKPOINT_BACKOFF_BOUNDS, 2 * bounds);
    }
    backoff.committed();
    assert.equal(backoff.allows(records), true, "no run: no threshold");
    backoff.failed(new Error("refused"), records, BOUND);
    assert.equal(backoff.allows(records + BOUND + 1), true, "a new run starts at one bound");
  });

  it("times the wait in monotonic time: wall clock steps neither end nor extend it", () => {
    const { clock, backoff } = setup();
    backoff.failed(new Error("refused"), 0, BOUND);
    clock.stepWall(10 * MAX_CHECKPOINT_BACKOFF_MS);
    assert.equal(backoff.allows(0), false, "a wall step forward does not end the wait");
    clock.stepWall(-100 * MAX_CHECKPOINT_BACKOFF_MS);
    clock.advance(FIRST_CHECKPOINT_BACKOFF_MS);
    assert.equal(backoff.allows(0), true, "a wall step back does not extend it");
  });

  it("warns once per run of failures, with the numbers it uses", () => {
    const { logger, backoff } = setup();
    backoff.failed(new Error("refused"), 0, BOUND);
    backoff.failed(new Error("refused"), 0, BOUND);
    assert.equal(logger.at("warn").length, 1);
    const [warning] = logger.at("warn");
    assert.match(warning!.message, /^background checkpoint failed/);
    assert.ok(warning!.message.includes(`${FIRST_CHECKPOINT_BACKOFF_MS / 1_000} s`));
    assert.ok(warning!.message.includes(`${MAX_CHECKPOINT_BACKOFF_MS / 1_000} s`));
    assert.ok(warning!.message.includes(`${MAX_CHECKPOINT_BACKOFF_BOUNDS} times`));
    assert.deepEqual(warning!.fields, {
      log: "log q",
      error: "Error: refused",
      retryInMs: FIRST_CHECKPOINT_BACKOFF_MS,
      retryInRecords: BOUND,
    });
    backoff.committed();
    backoff.failed(new Error("refused"), 0, BOUND);
    assert.equal(logger.at("warn").length, 2, "a new run: a new line");
  });
});
