/**
 * The log's retries and the stores' error classification: a permanent
 * StorageError is never retried (the open or write fails at once with the
 * store's message), a transient one is retried with backoff, and each retry
 * sequence logs one warning, not one per attempt.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import type { Logger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { rec, rejection, testOptions, texts } from "./helpers.js";

function warningsLogger(): Logger & { warnings: Array<{ message: string; what: unknown }> } {
  const warnings: Array<{ message: string; what: unknown }> = [];
  return {
    warnings,
    warn: (message, fields) => warnings.push({ message, what: fields?.what }),
    error: () => {},
  };
}

const permanent = (): Error =>
  new StorageError("the bucket is gone: create it", { cause: new Error("404"), permanent: true });

describe("log retries and error classification", { timeout: 30_000 }, () => {
  it("a permanent StorageError fails the open at once, unretried and unwrapped", async () => {
    const faults = new FaultStore(new MemoryStore());
    faults.addRule({ mode: "before", error: permanent });
    const logger = warningsLogger();
    const started = performance.now();
    const error = await rejection(
      openLog(faults, "q", testOptions({ logger, retry: { maxElapsedMs: 60_000 } })),
    );
    assert.ok(error instanceof StorageError);
    assert.equal(error.permanent, true);
    assert.equal(error.message, "the bucket is gone: create it");
    assert.ok(performance.now() - started < 1_000);
    assert.deepEqual(logger.warnings, []);
  });

  it("Queue.open reports a permanent store error as it is, at once", async () => {
    const faults = new FaultStore(new MemoryStore());
    faults.addRule({ op: "list", mode: "before", error: permanent });
    const started = performance.now();
    await assert.rejects(Queue.open(faults, "q", { logger: warningsLogger() }), {
      code: "STORAGE",
      permanent: true,
      message: "the bucket is gone: create it",
    });
    assert.ok(performance.now() - started < 1_000);
  });

  it("a permanent failure of a WAL write fails the log without retrying", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const { log } = await openLog(faults, "q", testOptions());
    await log.append(rec("kept"));
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", error: permanent, times: 1 });
    const error = await rejection(log.append(rec("refused")));
    assert.equal(error.code, "STORAGE");
    assert.equal(faults.injectedCount, 1, "one attempt only");
    assert.deepEqual(texts((await openLog(inner, "q", testOptions())).records), ["kept"]);
  });

  it("transient failures are retried with backoff and logged once per retry sequence", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const logger = warningsLogger();
    const { log } = await openLog(faults, "q", testOptions({ logger }));
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 6 });
    await log.append(rec("after six failures"));
    assert.equal(faults.injectedCount, 6);
    assert.equal(logger.warnings.length, 1, JSON.stringify(logger.warnings));
    assert.match(logger.warnings[0]!.message, /store request failed; retrying with backoff/);
    assert.match(String(logger.warnings[0]!.what), /^create q\/wal\//);
    // A later outage is a new sequence: one more line.
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 3 });
    await log.append(rec("after three more"));
    assert.equal(logger.warnings.length, 2);
    await log.close();
    assert.deepEqual(texts((await openLog(inner, "q", testOptions())).records), [
      "after six failures",
      "after three more",
    ]);
  });
});
