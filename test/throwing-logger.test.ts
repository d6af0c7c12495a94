/**
 * A user's logger that throws (a closed sink, a bug in a formatter) is the
 * user's problem to see, not the queue's: a commit, a worker's loop, a
 * background checkpoint and a queue's own stop go on as with a logger that
 * works, and no promise is left rejected (which ends a Node process).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog } from "../src/log/index.js";
import { consoleLogger, guardLogger, silentLogger, unguardedLogger } from "../src/logger.js";
import { Queue } from "../src/queue/queue.js";
import { MemoryStore } from "../src/store/memory.js";
import { FaultStore } from "../src/store/wrappers/fault.js";
import { rec, testOptions } from "./log/helpers.js";
import { throwingLogger } from "./recording-logger.js";
import { watchUnhandledRejections } from "./unhandled-rejections.js";
import { until } from "./until.js";
import { runWithLostClaim } from "./worker/helpers.js";

describe("a logger that throws", () => {
  it("does not fail a commit whose store request is retried", async () => {
    const faults = new FaultStore(new MemoryStore());
    const logger = throwingLogger();
    const queue = await Queue.open(faults, "app", {
      logger,
      flushIntervalMs: 0,
      log: { retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 60_000 } },
    });
    const unhandled = watchUnhandledRejections();
    try {
      faults.addRule({ op: "put", mode: "before", times: 2 });
      const id = await queue.enqueue("q", "x");
      assert.equal(queue.closed, false);
      assert.equal((await queue.getJob(id))?.status, "pending");
      assert.ok(logger.calls > 0, "the retry was told to the logger");
      await unhandled.check();
    } finally {
      unhandled.stop();
      await queue.close();
    }
  });

  it("does not stop a worker's loop after a lost claim, nor leave a failed promise", async () => {
    const logger = throwingLogger();
    const unhandled = watchUnhandledRejections();
    try {
      assert.deepEqual(await runWithLostClaim(logger), ["slow#1", "slow#2"]);
      assert.ok(logger.calls > 0, "the lost claim was told to the logger");
      await unhandled.check();
    } finally {
      unhandled.stop();
    }
  });

  it("does not fail the log when a background checkpoint fails, nor leave a failed promise", async () => {
    const faults = new FaultStore(new MemoryStore());
    const logger = throwingLogger();
    const { log } = await openLog(
      faults,
      "q",
      testOptions({
        logger,
        checkpointWalRecords: 2,
        retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 0 },
      }),
    );
    log.setSnapshotSource(() => rec("state"));
    faults.addRule({ op: "put", keyPattern: /\/checkpoint\//, mode: "before" });
    const unhandled = watchUnhandledRejections();
    try {
      for (let i = 0; i < 10; i++) await log.append(rec(`r${i}`));
      await until(() => logger.calls > 0, "the failed checkpoint was told to the logger");
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(log.isWritable(), true);
      await log.append(rec("after"));
      await unhandled.check();
    } finally {
      unhandled.stop();
      faults.clearRules();
      await log.close();
    }
  });

  it("does not keep a fenced queue from stopping", async () => {
    const store = new MemoryStore();
    const logger = throwingLogger();
    const first = await Queue.open(store, "jobs", { logger, flushIntervalMs: 0 });
    const second = await Queue.open(store, "jobs", { logger: silentLogger, flushIntervalMs: 0 });
    const unhandled = watchUnhandledRejections();
    const waiting = first.claim("other", { waitMs: 60_000 }).then(
      () => "ended",
      () => "ended",
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      const error = await first.enqueue("q", "zombie").then(
        () => null,
        (e: unknown) => e as { code?: string },
      );
      assert.equal(error?.code, "FENCED");
      assert.equal(first.closed, true);
      const timeout = new Promise((resolve) => {
        timer = setTimeout(resolve, 2_000, "still waiting");
      });
      assert.equal(await Promise.race([waiting, timeout]), "ended", "its waiters end");
      await unhandled.check();
    } finally {
      clearTimeout(timer); // not left to keep the process up once the waiters ended
      unhandled.stop();
      await first.close().catch(() => {});
      await second.close();
    }
  });

  it("is called through a guard, with the arguments as given, its rejections handled", async () => {
    const user = {
      calls: [] as unknown[][],
      warn(...args: unknown[]) {
        this.calls.push(args); // called as a method of its logger
      },
      error: async () => {
        throw new Error("the async sink is gone");
      },
    };
    const guard = guardLogger(user);
    // Each caller makes its own guard: every one of them guards (none hands the logger back).
    const throwing = throwingLogger();
    for (const each of [guardLogger(throwing), guardLogger(throwing)]) {
      assert.notEqual(each, throwing, "the user's logger is not called unguarded");
      assert.doesNotThrow(() => each.warn("told to a logger that throws"));
      assert.equal(unguardedLogger(each), throwing);
    }
    assert.equal(throwing.calls, 2);
    assert.equal(guardLogger(guard), guard, "a guard is not guarded again");
    assert.equal(unguardedLogger(guard), user);
    assert.equal(guardLogger(consoleLogger), consoleLogger);
    guard.warn("one argument");
    guard.warn("two", { n: 1 });
    assert.deepEqual(user.calls, [["one argument"], ["two", { n: 1 }]]);
    const unhandled = watchUnhandledRejections();
    try {
      guard.error("told to a logger whose promise rejects");
      guard.debug?.("told to a method the logger lacks");
      await unhandled.check();
    } finally {
      unhandled.stop();
    }
  });
});
